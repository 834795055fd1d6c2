'use strict';

// Wrong: correct behaviour, but every call walks the whole Map to drop expired keys,
// so each request costs O(number of keys held).

class IdempotencyConflictError extends Error {
  constructor(message = 'idempotency key already used with a different payload') {
    super(message);
    this.name = 'IdempotencyConflictError';
  }
}

class IdempotencyStore {
  constructor(clock, ttlMillis) {
    if (!(ttlMillis > 0)) throw new RangeError('ttlMillis must be positive');
    this.clock = clock;
    this.ttlMillis = ttlMillis;
    this.entries = new Map();
  }

  cleanup() {
    const now = this.clock.nowMillis();
    for (const [scope, entry] of this.entries) {
      if (entry.storedAt !== null && now >= entry.storedAt + this.ttlMillis) this.entries.delete(scope);
    }
  }

  execute(clientId, key, payload, handler) {
    this.cleanup();
    const scope = `${clientId.length}:${clientId}${key}`;
    const existing = this.entries.get(scope);
    if (existing) {
      if (existing.payload !== payload) return Promise.reject(new IdempotencyConflictError());
      return existing.promise;
    }
    const entry = { payload, storedAt: null, promise: null };
    this.entries.set(scope, entry);
    entry.promise = (async () => {
      try {
        const response = await handler();
        entry.storedAt = this.clock.nowMillis();
        return response;
      } catch (error) {
        this.entries.delete(scope);
        throw error;
      }
    })();
    return entry.promise;
  }

  size() {
    this.cleanup();
    return this.entries.size;
  }
}

module.exports = { IdempotencyStore, IdempotencyConflictError };
