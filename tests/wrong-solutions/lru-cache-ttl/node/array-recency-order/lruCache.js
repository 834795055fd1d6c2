'use strict';

/** LRU cache: a Map for the values and an array of keys for the recency order. */
class LRUCache {
  constructor(capacity, clock) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError('capacity must be a positive integer');
    }
    this.capacity = capacity;
    this.clock = clock;
    this.values = new Map(); // key -> { value, expiresAt }
    this.order = []; // least recently used first
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
    this.expirations = 0;
  }

  isExpired(item, now) {
    return item.expiresAt !== null && now >= item.expiresAt;
  }

  forget(key) {
    this.order.splice(this.order.indexOf(key), 1);
  }

  get(key) {
    const item = this.values.get(key);
    if (item === undefined) {
      this.misses++;
      return undefined;
    }
    this.forget(key);
    if (this.isExpired(item, this.clock.now())) {
      this.values.delete(key);
      this.misses++;
      this.expirations++;
      return undefined;
    }
    this.order.push(key);
    this.hits++;
    return item.value;
  }

  put(key, value, ttlMs = 0) {
    if (ttlMs < 0) throw new RangeError('ttlMs must be >= 0');
    const now = this.clock.now();
    const old = this.values.get(key);
    if (old !== undefined) {
      if (this.isExpired(old, now)) this.expirations++;
      this.forget(key);
    } else if (this.values.size >= this.capacity) {
      const oldest = this.order.shift();
      if (this.isExpired(this.values.get(oldest), now)) this.expirations++;
      else this.evictions++;
      this.values.delete(oldest);
    }
    this.values.set(key, { value, expiresAt: ttlMs > 0 ? now + ttlMs : null });
    this.order.push(key);
  }

  delete(key) {
    const item = this.values.get(key);
    if (item === undefined) return false;
    this.values.delete(key);
    this.forget(key);
    if (this.isExpired(item, this.clock.now())) {
      this.expirations++;
      return false;
    }
    return true;
  }

  get size() {
    return this.values.size;
  }

  stats() {
    return { hits: this.hits, misses: this.misses, evictions: this.evictions, expirations: this.expirations };
  }
}

module.exports = { LRUCache };
