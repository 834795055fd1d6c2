'use strict';

/** LRU cache: a Map for lookups plus a doubly linked list for recency. */
class LRUCache {
  constructor(capacity, clock) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError('capacity must be a positive integer');
    }
    this.capacity = capacity;
    this.clock = clock;
    this.map = new Map();
    this.head = { next: null, prev: null };
    this.head.next = this.head;
    this.head.prev = this.head;
    this.counters = { hits: 0, misses: 0, evictions: 0, expirations: 0 };
  }

  _unlink(node) {
    node.prev.next = node.next;
    node.next.prev = node.prev;
  }

  _pushFront(node) {
    node.prev = this.head;
    node.next = this.head.next;
    this.head.next.prev = node;
    this.head.next = node;
  }

  _expired(node, now) {
    return node.expiresAt !== 0 && now >= node.expiresAt;
  }

  get(key) {
    const node = this.map.get(key);
    if (!node) {
      this.counters.misses++;
      return undefined;
    }
    this._unlink(node);
    if (this._expired(node, this.clock.now())) {
      this.map.delete(key);
      this.counters.misses++;
      this.counters.expirations++;
      return undefined;
    }
    this._pushFront(node);
    this.counters.hits++;
    return node.value;
  }

  put(key, value, ttlMs = 0) {
    if (ttlMs < 0) throw new RangeError('ttlMs must be >= 0');
    const now = this.clock.now();
    const expiresAt = ttlMs > 0 ? now + ttlMs : 0;
    const existing = this.map.get(key);
    if (existing) {
      if (this._expired(existing, now)) this.counters.expirations++;
      existing.value = value;
      existing.expiresAt = expiresAt;
      this._unlink(existing);
      this._pushFront(existing);
      return;
    }
    if (this.map.size >= this.capacity) {
      const lru = this.head.prev;
      this._unlink(lru);
      this.map.delete(lru.key);
      if (this._expired(lru, now)) this.counters.expirations++;
      else this.counters.evictions++;
    }
    const node = { key, value, expiresAt, prev: null, next: null };
    this.map.set(key, node);
    this._pushFront(node);
  }

  delete(key) {
    const node = this.map.get(key);
    if (!node) return false;
    this._unlink(node);
    this.map.delete(key);
    if (this._expired(node, this.clock.now())) {
      this.counters.expirations++;
      return false;
    }
    return true;
  }

  get size() {
    return this.map.size;
  }

  stats() {
    return this.counters;
  }
}

module.exports = { LRUCache };
