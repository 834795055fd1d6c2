'use strict';

/**
 * An LRU cache with per-entry TTLs and hit/miss statistics.
 *
 * A Map iterates in insertion order, so deleting a key and setting it again
 * moves it to the end: the first key is the least recently used one. Every
 * method is synchronous, so interleaved async callers can never observe (or
 * break) a half-done operation.
 */
class LRUCache {
  #capacity;
  #clock;
  #entries = new Map(); // key -> { value, expiresAt } (expiresAt null: never)
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
  }

  /** The live value for key, or undefined on a miss. */
  get(key) {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    if (isExpired(entry, this.#clock.now())) {
      this.#entries.delete(key);
      this.#misses++;
      this.#expirations++;
      return undefined;
    }
    this.#hits++;
    return entry.value;
  }

  /** Stores value under key; ttlMs 0 never expires. */
  put(key, value, ttlMs = 0) {
    if (typeof ttlMs !== 'number' || !(ttlMs >= 0)) {
      throw new RangeError(`ttlMs must be a number >= 0, got ${ttlMs}`);
    }
    const now = this.#clock.now();
    const fresh = { value, expiresAt: ttlMs > 0 ? now + ttlMs : null };
    const old = this.#entries.get(key);
    if (old !== undefined) {
      if (isExpired(old, now)) this.#expirations++;
      this.#entries.delete(key);
    } else if (this.#entries.size >= this.#capacity) {
      const [lruKey, lru] = this.#entries.entries().next().value;
      this.#entries.delete(lruKey);
      if (isExpired(lru, now)) this.#expirations++;
      else this.#evictions++;
    }
    this.#entries.set(key, fresh);
  }

  /** Removes key; true only if a live entry was removed. */
  delete(key) {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    if (isExpired(entry, this.#clock.now())) {
      this.#expirations++;
      return false;
    }
    return true;
  }

  /** Number of stored entries, including expired ones not yet removed. */
  get size() {
    return this.#entries.size;
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
}

function isExpired(entry, now) {
  return entry.expiresAt !== null && now >= entry.expiresAt;
}

module.exports = { LRUCache };
