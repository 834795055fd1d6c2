'use strict';

// Sliding-window log kept as a plain array that is filtered on every call:
// exact, but each request costs O(requests in the window).

function checkConfig(limit, windowMillis) {
  if (!(limit >= 1)) throw new RangeError(`limit must be at least 1, got ${limit}`);
  if (!(windowMillis >= 1)) throw new RangeError(`window must be at least 1 ms, got ${windowMillis}`);
}

/** Doubly linked list of client states, least recently admitted first. */
class Group {
  constructor() {
    this.head = null;
    this.tail = null;
    this.size = 0;
  }

  append(node) {
    node.prev = this.tail;
    node.next = null;
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.size++;
  }

  remove(node) {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = null;
    this.size--;
  }
}

class RateLimiter {
  #clock;
  #defaults;
  #overrides = new Map(); // client id -> { limit, window }
  #clients = new Map(); // client id -> state, tracked clients only
  #groups = new Map(); // window -> Group

  constructor(clock, defaultLimit, defaultWindowMillis) {
    checkConfig(defaultLimit, defaultWindowMillis);
    this.#clock = clock;
    this.#defaults = { limit: defaultLimit, window: defaultWindowMillis };
  }

  setClientLimit(clientId, limit, windowMillis) {
    checkConfig(limit, windowMillis);
    this.#overrides.set(clientId, { limit, window: windowMillis });
    const state = this.#clients.get(clientId);
    if (state) this.#release(state);
  }

  async allow(clientId) {
    return this.#decide(clientId);
  }

  trackedClients() {
    this.#releaseIdle(this.#clock.nowMillis());
    return this.#clients.size;
  }

  #decide(clientId) {
    const now = this.#clock.nowMillis();
    this.#releaseIdle(now);
    let state = this.#clients.get(clientId);
    if (!state) {
      const { limit, window } = this.#overrides.get(clientId) ?? this.#defaults;
      state = { id: clientId, limit, window, times: [], group: null, prev: null, next: null };
      this.#clients.set(clientId, state);
    }
    state.times = state.times.filter((t) => t > now - state.window); // keep only the window
    if (state.times.length >= state.limit) return false;
    state.times.push(now);

    if (state.group) state.group.remove(state);
    let group = this.#groups.get(state.window);
    if (!group) {
      group = new Group();
      this.#groups.set(state.window, group);
    }
    group.append(state);
    state.group = group;
    return true;
  }

  #releaseIdle(now) {
    for (const [window, group] of this.#groups) {
      while (group.head && group.head.times[group.head.times.length - 1] + window <= now) {
        this.#release(group.head);
      }
    }
  }

  #release(state) {
    this.#clients.delete(state.id);
    state.group.remove(state);
    if (state.group.size === 0) this.#groups.delete(state.window);
    state.group = null;
  }
}

module.exports = { RateLimiter };
