'use strict';

/**
 * Exact sliding-window-log rate limiter for an API gateway.
 *
 * Every tracked client keeps the times of its admitted requests that are still in
 * its window, oldest first. A request at time t drops the times <= t - window from
 * the front and is admitted if fewer than `limit` remain. Each time is pushed once
 * and dropped once, so allow() is O(1) amortised.
 *
 * Idle clients are found without scanning all clients: clients are grouped by
 * window length, and each group is a doubly linked list ordered by last admitted
 * request (admitting moves the client to the tail). Within a group the head is the
 * first client to become idle, so releasing idle clients only looks at the heads.
 *
 * Concurrency: JavaScript runs one piece of code at a time, so a decision that
 * never awaits between reading the count and recording the request is atomic.
 * allow() makes the whole decision synchronously, at call time, and only then
 * returns a resolved promise.
 */

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
