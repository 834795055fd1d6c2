'use strict';

/**
 * Sliding-window rate limiter for an API gateway.
 *
 * `clock.nowMillis()` returns the current time as an integer number of
 * milliseconds (it never goes backwards).
 */
class RateLimiter {
  /**
   * Every client gets `defaultLimit` requests per `defaultWindowMillis` ms unless it
   * has an override. Throws a RangeError if the limit or window is < 1.
   */
  constructor(clock, defaultLimit, defaultWindowMillis) {
    this.clock = clock;
    // TODO
  }

  /**
   * Overrides the limit and window of one client and clears its history.
   * Throws a RangeError if the limit or window is < 1.
   */
  setClientLimit(clientId, limit, windowMillis) {
    throw new Error('TODO: setClientLimit');
  }

  /**
   * Resolves to true (admitted) if fewer than `limit` of the client's admitted
   * requests lie in (now - window, now], recording this one; otherwise false.
   * Calls that overlap (not awaited) must be judged one at a time, in call order.
   */
  async allow(clientId) {
    throw new Error('TODO: allow');
  }

  /** Number of clients with at least one admitted request inside their window. */
  trackedClients() {
    throw new Error('TODO: trackedClients');
  }
}

module.exports = { RateLimiter };
