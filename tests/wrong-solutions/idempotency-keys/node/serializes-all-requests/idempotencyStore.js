'use strict';

// Wrong: chains every request onto one promise queue so that no two run at the same
// time. Duplicates are handled correctly, but a slow handler for one key holds up
// every other key behind it.

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
    this.responses = new Map(); // insertion order = storage order
    this.inFlight = new Map();
    this.queue = Promise.resolve();
  }

  evict() {
    const now = this.clock.nowMillis();
    for (const [scope, stored] of this.responses) {
      if (now < stored.storedAt + this.ttlMillis) break;
      this.responses.delete(scope);
    }
  }

  execute(clientId, key, payload, handler) {
    const scope = JSON.stringify([clientId, key]);
    const pending = this.inFlight.get(scope);
    if (pending && pending.payload !== payload) return Promise.reject(new IdempotencyConflictError());
    if (!pending) this.inFlight.set(scope, { payload });
    const run = this.queue.then(async () => {
      this.evict();
      const stored = this.responses.get(scope);
      if (stored) {
        if (stored.payload !== payload) throw new IdempotencyConflictError();
        return stored.response;
      }
      try {
        const response = await handler();
        this.responses.set(scope, { payload, response, storedAt: this.clock.nowMillis() });
        return response;
      } finally {
        this.inFlight.delete(scope);
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  size() {
    this.evict();
    let count = this.responses.size;
    for (const scope of this.inFlight.keys()) if (!this.responses.has(scope)) count++;
    return count;
  }
}

module.exports = { IdempotencyStore, IdempotencyConflictError };
