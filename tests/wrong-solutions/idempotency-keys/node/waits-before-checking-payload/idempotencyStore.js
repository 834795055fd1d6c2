'use strict';

// Wrong: a duplicate first awaits the execution in flight and only then compares
// payloads, so a different payload waits for someone else's request instead of being
// rejected at once.

/** The key was already used with a different payload (stored or still in flight). */
class IdempotencyConflictError extends Error {
  constructor(message = 'idempotency key already used with a different payload') {
    super(message);
    this.name = 'IdempotencyConflictError';
  }
}

/**
 * Idempotent request handling: runs a handler once per (client, key) and replays its
 * response for ttlMillis after it was stored. Correct under interleaved async calls.
 */
class IdempotencyStore {
  #clock;
  #ttlMillis;
  #entries = new Map(); // scope -> { scope, payload, promise, storedAt }, in flight or stored
  #stored = []; // stored entries, oldest first
  #head = 0; // index of the oldest entry still in #stored

  constructor(clock, ttlMillis) {
    if (!(ttlMillis > 0)) {
      throw new RangeError(`ttlMillis must be positive, got ${ttlMillis}`);
    }
    this.#clock = clock;
    this.#ttlMillis = ttlMillis;
  }

  /**
   * Everything up to registering the key happens synchronously, before any await, so
   * interleaved calls always see a key that is in flight.
   */
  async execute(clientId, key, payload, handler) {
    this.#evictExpired();
    const scope = JSON.stringify([clientId, key]); // unambiguous, whatever the strings contain
    const existing = this.#entries.get(scope);
    if (existing) {
      try {
        await existing.promise;
      } catch {
        // the execution in flight failed: fall through to the payload check
      }
      if (existing.payload !== payload) {
        return Promise.reject(new IdempotencyConflictError(
          `key ${JSON.stringify(key)} of client ${JSON.stringify(clientId)} was already used with a different payload`));
      }
      return existing.promise; // the stored response, or the outcome of the execution in flight
    }
    const entry = { scope, payload, promise: null, storedAt: 0 };
    this.#entries.set(scope, entry);
    entry.promise = this.#run(entry, handler);
    return entry.promise;
  }

  /** Number of keys held: in flight, or stored and not yet expired. */
  size() {
    this.#evictExpired();
    return this.#entries.size;
  }

  async #run(entry, handler) {
    try {
      const response = await handler();
      entry.storedAt = this.#clock.nowMillis();
      this.#stored.push(entry);
      return response;
    } catch (error) {
      this.#entries.delete(entry.scope); // nothing stored: the next retry runs again
      throw error; // every caller waiting on this execution gets the same error
    }
  }

  /**
   * Entries are stored in time order, so only the oldest can have expired: each entry is
   * looked at once when it goes, O(1) amortized per call.
   */
  #evictExpired() {
    const now = this.#clock.nowMillis();
    const stored = this.#stored;
    while (this.#head < stored.length && now >= stored[this.#head].storedAt + this.#ttlMillis) {
      const oldest = stored[this.#head];
      stored[this.#head++] = undefined;
      if (this.#entries.get(oldest.scope) === oldest) {
        this.#entries.delete(oldest.scope);
      }
    }
    if (this.#head > 1024 && this.#head * 2 > stored.length) {
      this.#stored = stored.slice(this.#head);
      this.#head = 0;
    }
  }
}

module.exports = { IdempotencyStore, IdempotencyConflictError };
