'use strict';

// Exact sliding-window log, but idle clients are only skipped when counting,
// never deleted: memory grows with every client ever seen, and
// trackedClients() scans them all.

class RateLimiter {
  constructor(clock, defaultLimit, defaultWindowMillis) {
    if (defaultLimit < 1 || defaultWindowMillis < 1) throw new RangeError('limit and window must be positive');
    this.clock = clock;
    this.defaults = { limit: defaultLimit, window: defaultWindowMillis };
    this.overrides = new Map();
    this.logs = new Map(); // client id -> { times, head }
  }

  config(clientId) {
    return this.overrides.get(clientId) ?? this.defaults;
  }

  setClientLimit(clientId, limit, windowMillis) {
    if (limit < 1 || windowMillis < 1) throw new RangeError('limit and window must be positive');
    this.overrides.set(clientId, { limit, window: windowMillis });
    this.logs.delete(clientId);
  }

  async allow(clientId) {
    const now = this.clock.nowMillis();
    const { limit, window } = this.config(clientId);
    let log = this.logs.get(clientId);
    if (!log) {
      log = { times: [], head: 0 };
      this.logs.set(clientId, log);
    }
    while (log.head < log.times.length && log.times[log.head] <= now - window) log.head++;
    if (log.times.length - log.head >= limit) return false;
    log.times.push(now);
    return true;
  }

  trackedClients() {
    const now = this.clock.nowMillis();
    let n = 0;
    for (const [clientId, log] of this.logs) {
      const last = log.times[log.times.length - 1];
      if (last !== undefined && last > now - this.config(clientId).window) n++;
    }
    return n;
  }
}

module.exports = { RateLimiter };
