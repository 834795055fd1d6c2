'use strict';

// Wrong: looks for a stored response, and if there is none awaits the handler and
// stores its result afterwards. Nothing marks the key as in flight during the await,
// so duplicates that arrive meanwhile all run the handler too.

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
  }

  evict() {
    const now = this.clock.nowMillis();
    for (const [scope, stored] of this.responses) {
      if (now < stored.storedAt + this.ttlMillis) break;
      this.responses.delete(scope);
    }
  }

  async execute(clientId, key, payload, handler) {
    this.evict();
    const scope = JSON.stringify([clientId, key]);
    const stored = this.responses.get(scope);
    if (stored) {
      if (stored.payload !== payload) throw new IdempotencyConflictError();
      return stored.response;
    }
    const response = await handler();
    this.responses.delete(scope);
    this.responses.set(scope, { payload, response, storedAt: this.clock.nowMillis() });
    return response;
  }

  size() {
    this.evict();
    return this.responses.size;
  }
}

module.exports = { IdempotencyStore, IdempotencyConflictError };
