'use strict';

/**
 * An LRU cache with per-entry TTLs and hit/miss statistics.
 * Keep every method synchronous: async callers interleave between calls.
 */
class LRUCache {
  /**
   * @param {number} capacity maximum number of stored entries (integer >= 1, else RangeError)
   * @param {{ now(): number }} clock current time in milliseconds
   */
  constructor(capacity, clock) {
    // TODO
  }

  /** The live value for key, or undefined on a miss. */
  get(key) {
    // TODO
    return undefined;
  }

  /** Stores value under key; ttlMs 0 never expires, ttlMs < 0 throws RangeError. */
  put(key, value, ttlMs = 0) {
    // TODO
  }

  /** Removes key; true only if a live entry was removed. */
  delete(key) {
    // TODO
    return false;
  }

  /** Number of stored entries, including expired ones not yet removed. */
  get size() {
    // TODO
    return 0;
  }

  /** A snapshot of the counters: { hits, misses, evictions, expirations }. */
  stats() {
    // TODO
    return { hits: 0, misses: 0, evictions: 0, expirations: 0 };
  }
}

module.exports = { LRUCache };
