'use strict';

/** The key was already used with a different payload (stored or still in flight). */
class IdempotencyConflictError extends Error {
  constructor(message = 'idempotency key already used with a different payload') {
    super(message);
    this.name = 'IdempotencyConflictError';
  }
}

/**
 * Idempotent request handling: runs a handler once per (client, key) and replays its
 * response for ttlMillis after it was stored. Must be correct under interleaved async calls.
 * clock.nowMillis() returns the current time in milliseconds.
 */
class IdempotencyStore {
  /** @throws {RangeError} if ttlMillis <= 0 */
  constructor(clock, ttlMillis) {
    // TODO
  }

  /**
   * Runs handler() (which may return a value or a promise) at most once for
   * (clientId, key) and returns a promise of its response:
   * - stored response, same payload: resolve with it without calling the handler;
   * - stored or in flight, different payload: reject with IdempotencyConflictError at once;
   * - in flight, same payload: settle like the execution in flight (same response or error);
   * - otherwise: call the handler; store its response, or store nothing if it
   *   threw/rejected (the promise rejects with that same error).
   * Never throws synchronously: every failure is a rejected promise.
   */
  async execute(clientId, key, payload, handler) {
    // TODO
    throw new Error('not implemented');
  }

  /** Number of keys held: in flight, or stored and not yet expired. */
  size() {
    // TODO
    return 0;
  }
}

module.exports = { IdempotencyStore, IdempotencyConflictError };
