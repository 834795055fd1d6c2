'use strict';

// Fixed-window counter: each client gets `limit` requests per aligned window
// [k*window, (k+1)*window). Not a sliding window: a client can burst twice its
// limit across a window boundary.

class RateLimiter {
  constructor(clock, defaultLimit, defaultWindowMillis) {
    if (defaultLimit < 1 || defaultWindowMillis < 1) throw new RangeError('limit and window must be positive');
    this.clock = clock;
    this.defaults = { limit: defaultLimit, window: defaultWindowMillis };
    this.overrides = new Map();
    this.counters = new Map(); // client id -> { start, count }
  }

  setClientLimit(clientId, limit, windowMillis) {
    if (limit < 1 || windowMillis < 1) throw new RangeError('limit and window must be positive');
    this.overrides.set(clientId, { limit, window: windowMillis });
    this.counters.delete(clientId);
  }

  async allow(clientId) {
    const now = this.clock.nowMillis();
    const { limit, window } = this.overrides.get(clientId) ?? this.defaults;
    const start = now - (now % window);
    let counter = this.counters.get(clientId);
    if (!counter || counter.start !== start) {
      counter = { start, count: 0 };
      this.counters.set(clientId, counter);
    }
    if (counter.count >= limit) return false;
    counter.count++;
    return true;
  }

  trackedClients() {
    const now = this.clock.nowMillis();
    for (const [id, counter] of this.counters) {
      const { window } = this.overrides.get(id) ?? this.defaults;
      if (counter.start + window <= now) this.counters.delete(id);
    }
    return this.counters.size;
  }
}

module.exports = { RateLimiter };
