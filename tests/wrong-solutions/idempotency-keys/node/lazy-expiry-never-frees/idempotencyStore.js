'use strict';

// Wrong: an expired entry is ignored (and replaced) when its own key comes back, but
// expired entries of keys that never come back stay in memory forever, and size()
// counts them.

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

  execute(clientId, key, payload, handler) {
    const scope = `${clientId.length}:${clientId}${key}`;
    const existing = this.entries.get(scope);
    const expired = existing && existing.storedAt !== null && this.clock.nowMillis() >= existing.storedAt + this.ttlMillis;
    if (existing && !expired) {
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
    return this.entries.size;
  }
}

module.exports = { IdempotencyStore, IdempotencyConflictError };
