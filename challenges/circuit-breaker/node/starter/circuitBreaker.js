'use strict';

/**
 * A circuit breaker that is correct under interleaved async calls.
 * See the statement for the exact rules.
 */

const State = Object.freeze({ CLOSED: 'closed', OPEN: 'open', HALF_OPEN: 'half-open' });

class CircuitOpenError extends Error {
  constructor(message = 'circuit breaker is open') {
    super(message);
    this.name = 'CircuitOpenError';
  }
}

class CircuitBreaker {
  /**
   * @param {{ now(): number }} clock  clock.now() returns the time in ms
   * @param {{ failureThreshold: number, windowMs: number, cooldownMs: number,
   *           halfOpenMaxCalls: number, successThreshold: number }} options
   *        every number must be an integer >= 1 (RangeError otherwise)
   */
  constructor(clock, { failureThreshold, windowMs, cooldownMs, halfOpenMaxCalls, successThreshold } = {}) {
    // TODO
  }

  /**
   * Runs fn if the breaker admits the call and records the outcome.
   * Resolves with fn's result; rejects with fn's error, or with
   * CircuitOpenError (without running fn) when the call is rejected.
   */
  async call(fn) {
    // TODO
    throw new Error('not implemented');
  }

  /** State.CLOSED | State.OPEN | State.HALF_OPEN (half-open once the cooldown has elapsed). */
  get state() {
    // TODO
    return undefined;
  }

  /** A snapshot: { successes, failures, rejections, timesOpened }. */
  stats() {
    // TODO
    return undefined;
  }
}

module.exports = { CircuitBreaker, CircuitOpenError, State };
