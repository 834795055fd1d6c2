'use strict';

/**
 * An LRU cache with per-entry TTLs and hit/miss statistics.
 *
 * A Map finds the node of a key; a doubly linked list keeps the nodes in
 * recency order. Every method is synchronous, so interleaved async callers
 * can never observe (or break) a half-done operation.
 */
class LRUCache {
  #capacity;
  #clock;
  #nodes = new Map(); // key -> node
  // Sentinel of a circular list: #head.next is the most recently used node,
  // #head.prev the least recently used one.
  #head = { prev: null, next: null };
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #expirations = 0;

  /**
   * @param {number} capacity maximum number of stored entries (integer >= 1)
   * @param {{ now(): number }} clock current time in milliseconds
   */
  constructor(capacity, clock) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#clock = clock;
    this.#head.prev = this.#head;
    this.#head.next = this.#head;
  }

  /** The live value for key, or undefined on a miss. */
  get(key) {
    const node = this.#nodes.get(key);
    if (node === undefined) {
      this.#misses++;
      return undefined;
    }
    if (isExpired(node, this.#clock.now())) {
      this.#remove(node);
      this.#misses++;
      this.#expirations++;
      return undefined;
    }
    this.#moveToFront(node);
    this.#hits++;
    return node.value;
  }

  /** Stores value under key; ttlMs 0 never expires. */
  put(key, value, ttlMs = 0) {
    if (typeof ttlMs !== 'number' || !(ttlMs >= 0)) {
      throw new RangeError(`ttlMs must be a number >= 0, got ${ttlMs}`);
    }
    const now = this.#clock.now();
    const expiresAt = ttlMs > 0 ? now + ttlMs : null;
    let node = this.#nodes.get(key);
    if (node !== undefined) {
      if (isExpired(node, now)) this.#expirations++;
      node.value = value;
      node.expiresAt = expiresAt;
      this.#moveToFront(node);
      return;
    }
    if (this.#nodes.size >= this.#capacity) {
      this.#remove(this.#head.prev);
      this.#evictions++;
    }
    node = { key, value, expiresAt, prev: null, next: null };
    this.#nodes.set(key, node);
    this.#pushFront(node);
  }

  /** Removes key; true only if a live entry was removed. */
  delete(key) {
    const node = this.#nodes.get(key);
    if (node === undefined) return false;
    this.#remove(node);
    if (isExpired(node, this.#clock.now())) {
      this.#expirations++;
      return false;
    }
    return true;
  }

  /** Number of stored entries, including expired ones not yet removed. */
  get size() {
    return this.#nodes.size;
  }

  /** A snapshot of the counters. */
  stats() {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      expirations: this.#expirations,
    };
  }

  #pushFront(node) {
    node.prev = this.#head;
    node.next = this.#head.next;
    this.#head.next.prev = node;
    this.#head.next = node;
  }

  #unlink(node) {
    node.prev.next = node.next;
    node.next.prev = node.prev;
    node.prev = null;
    node.next = null;
  }

  #moveToFront(node) {
    if (this.#head.next !== node) {
      this.#unlink(node);
      this.#pushFront(node);
    }
  }

  #remove(node) {
    this.#unlink(node);
    this.#nodes.delete(node.key);
  }
}

function isExpired(node, now) {
  return node.expiresAt !== null && now >= node.expiresAt;
}

module.exports = { LRUCache };
