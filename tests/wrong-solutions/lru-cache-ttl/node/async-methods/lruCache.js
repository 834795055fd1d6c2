'use strict';

/**
 * "Thread-safe" LRU cache: every operation runs under an async mutex, so
 * concurrent callers queue up instead of interleaving.
 */
class Mutex {
  #last = Promise.resolve();

  run(fn) {
    const result = this.#last.then(fn);
    this.#last = result.catch(() => {});
    return result;
  }
}

class LRUCache {
  #capacity;
  #clock;
  #entries = new Map(); // key -> { value, expiresAt }; least recently used first
  #mutex = new Mutex();
  #stats = { hits: 0, misses: 0, evictions: 0, expirations: 0 };

  constructor(capacity, clock) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError('capacity must be a positive integer');
    }
    this.#capacity = capacity;
    this.#clock = clock;
  }

  #expired(entry, now) {
    return entry.expiresAt !== null && now >= entry.expiresAt;
  }

  async get(key) {
    return this.#mutex.run(() => {
      const entry = this.#entries.get(key);
      if (entry === undefined) {
        this.#stats.misses++;
        return undefined;
      }
      this.#entries.delete(key);
      if (this.#expired(entry, this.#clock.now())) {
        this.#stats.misses++;
        this.#stats.expirations++;
        return undefined;
      }
      this.#entries.set(key, entry);
      this.#stats.hits++;
      return entry.value;
    });
  }

  async put(key, value, ttlMs = 0) {
    if (ttlMs < 0) throw new RangeError('ttlMs must be >= 0');
    return this.#mutex.run(() => {
      const now = this.#clock.now();
      const old = this.#entries.get(key);
      if (old !== undefined) {
        if (this.#expired(old, now)) this.#stats.expirations++;
        this.#entries.delete(key);
      } else if (this.#entries.size >= this.#capacity) {
        const [oldestKey, oldest] = this.#entries.entries().next().value;
        this.#entries.delete(oldestKey);
        if (this.#expired(oldest, now)) this.#stats.expirations++;
        else this.#stats.evictions++;
      }
      this.#entries.set(key, { value, expiresAt: ttlMs > 0 ? now + ttlMs : null });
    });
  }

  async delete(key) {
    return this.#mutex.run(() => {
      const entry = this.#entries.get(key);
      if (entry === undefined) return false;
      this.#entries.delete(key);
      if (this.#expired(entry, this.#clock.now())) {
        this.#stats.expirations++;
        return false;
      }
      return true;
    });
  }

  get size() {
    return this.#entries.size;
  }

  stats() {
    return { ...this.#stats };
  }
}

module.exports = { LRUCache };
