'use strict';

// Consistent hash ring with virtual nodes. Implement everything marked TODO;
// see the statement for the exact rules (hash function, virtual node labels,
// tie-breaking, behaviour under interleaved async calls).

const { createHash } = require('node:crypto'); // eslint-disable-line no-unused-vars

const DEFAULT_VNODES = 160;

/** First 8 bytes of MD5(UTF-8(s)) read big-endian, as an unsigned BigInt. */
function hash64(s) {
  // TODO
  return 0n;
}

class HashRing {
  /**
   * @param {{ vnodes?: number, hash?: (s: string) => bigint }} [options]
   *   vnodes: virtual nodes per physical node, an integer >= 1 (else RangeError)
   *   hash:   maps a string to a BigInt in [0, 2^64); defaults to hash64
   */
  constructor({ vnodes = DEFAULT_VNODES, hash = hash64 } = {}) {
    // TODO
    this.vnodes = vnodes;
    this.hash = hash;
  }

  /** Places name#0 .. name#(vnodes-1) on the ring; false if already a member. */
  addNode(name) {
    // TODO
    return false;
  }

  /** Removes the node and all its virtual nodes; false if not a member. */
  removeNode(name) {
    // TODO
    return false;
  }

  /** The first virtual node clockwise from hash(key), inclusive; null when the ring is empty. */
  getNode(key) {
    // TODO
    return null;
  }

  /** Up to n distinct physical nodes met walking clockwise from hash(key); [] when n <= 0. */
  getNodes(key, n) {
    // TODO
    return [];
  }

  /** Member names in ascending order. */
  nodes() {
    // TODO
    return [];
  }

  /** Number of physical nodes. */
  get size() {
    // TODO
    return 0;
  }
}

module.exports = { HashRing, hash64, DEFAULT_VNODES };
