'use strict';

// Sliding-window log written against an async "store" interface (so it can move
// to Redis later): count the recent requests, await, then record the new one.
// Every call that starts before the first one records sees the same count, so a
// burst of un-awaited calls is admitted far beyond the limit.

class MemoryStore {
  constructor() {
    this.logs = new Map(); // client id -> { times: number[], head: number }
  }

  async countSince(clientId, after) {
    const log = this.logs.get(clientId);
    if (!log) return 0;
    while (log.head < log.times.length && log.times[log.head] <= after) log.head++;
    return log.times.length - log.head;
  }

  async record(clientId, t) {
    let log = this.logs.get(clientId);
    if (!log) {
      log = { times: [], head: 0 };
      this.logs.set(clientId, log);
    }
    log.times.push(t);
  }

  async last(clientId) {
    const log = this.logs.get(clientId);
    return log && log.times.length > log.head ? log.times[log.times.length - 1] : undefined;
  }

  delete(clientId) {
    this.logs.delete(clientId);
  }
}

class RateLimiter {
  constructor(clock, defaultLimit, defaultWindowMillis) {
    if (defaultLimit < 1 || defaultWindowMillis < 1) throw new RangeError('limit and window must be positive');
    this.clock = clock;
    this.defaults = { limit: defaultLimit, window: defaultWindowMillis };
    this.overrides = new Map();
    this.store = new MemoryStore();
    this.groups = new Map(); // window -> Map(client id -> true), least recently admitted first
  }

  config(clientId) {
    return this.overrides.get(clientId) ?? this.defaults;
  }

  setClientLimit(clientId, limit, windowMillis) {
    if (limit < 1 || windowMillis < 1) throw new RangeError('limit and window must be positive');
    const old = this.config(clientId);
    this.overrides.set(clientId, { limit, window: windowMillis });
    this.store.delete(clientId);
    this.groups.get(old.window)?.delete(clientId);
  }

  async allow(clientId) {
    const now = this.clock.nowMillis();
    this.releaseIdle(now);
    const { limit, window } = this.config(clientId);
    const recent = await this.store.countSince(clientId, now - window);
    if (recent >= limit) return false;
    await this.store.record(clientId, now);
    if (!this.groups.has(window)) this.groups.set(window, new Map());
    const group = this.groups.get(window);
    group.delete(clientId);
    group.set(clientId, true);
    return true;
  }

  trackedClients() {
    this.releaseIdle(this.clock.nowMillis());
    let n = 0;
    for (const group of this.groups.values()) n += group.size;
    return n;
  }

  releaseIdle(now) {
    for (const [window, group] of this.groups) {
      for (const clientId of group.keys()) {
        const log = this.store.logs.get(clientId);
        if (log && log.times[log.times.length - 1] + window > now) break;
        group.delete(clientId);
        this.store.delete(clientId);
      }
    }
  }
}

module.exports = { RateLimiter };
