'use strict';

// WRONG: correct answers, but lookups use findIndex (a linear scan) instead of a
// binary search: O(V) per lookup.

const { createHash } = require('node:crypto');

const DEFAULT_VNODES = 160;

/** First 8 bytes of MD5(UTF-8(s)) read big-endian, as an unsigned BigInt. */
function hash64(s) {
  return createHash('md5').update(s, 'utf8').digest().readBigUInt64BE(0);
}

/** Ring order: position, ties broken by node name. */
function before(posA, nodeA, posB, nodeB) {
  return posA < posB || (posA === posB && nodeA < nodeB);
}

function comparePoints(a, b) {
  if (before(a.pos, a.node, b.pos, b.node)) return -1;
  return before(b.pos, b.node, a.pos, a.node) ? 1 : 0;
}

class HashRing {
  #vnodes;
  #hash;
  #positions = []; // BigInt positions, ascending
  #owners = []; // #owners[i] owns #positions[i]
  #members = new Set();

  /**
   * @param {{ vnodes?: number, hash?: (s: string) => bigint }} [options]
   */
  constructor({ vnodes = DEFAULT_VNODES, hash = hash64 } = {}) {
    if (!Number.isInteger(vnodes) || vnodes < 1) {
      throw new RangeError(`vnodes must be an integer >= 1, got ${vnodes}`);
    }
    this.#vnodes = vnodes;
    this.#hash = hash;
  }

  addNode(name) {
    if (this.#members.has(name)) return false;
    const added = [];
    for (let i = 0; i < this.#vnodes; i++) {
      added.push({ pos: this.#hash(`${name}#${i}`), node: name });
    }
    added.sort(comparePoints);
    // Merge the new points into the existing sorted ring: O(P + V log V).
    const oldPositions = this.#positions;
    const oldOwners = this.#owners;
    const positions = [];
    const owners = [];
    let i = 0;
    let j = 0;
    while (i < oldPositions.length || j < added.length) {
      const takeOld = j === added.length
        || (i < oldPositions.length && !before(added[j].pos, added[j].node, oldPositions[i], oldOwners[i]));
      if (takeOld) {
        positions.push(oldPositions[i]);
        owners.push(oldOwners[i]);
        i++;
      } else {
        positions.push(added[j].pos);
        owners.push(added[j].node);
        j++;
      }
    }
    this.#positions = positions;
    this.#owners = owners;
    this.#members.add(name);
    return true;
  }

  removeNode(name) {
    if (!this.#members.has(name)) return false;
    const positions = [];
    const owners = [];
    this.#owners.forEach((owner, i) => {
      if (owner !== name) {
        positions.push(this.#positions[i]);
        owners.push(owner);
      }
    });
    this.#positions = positions;
    this.#owners = owners;
    this.#members.delete(name);
    return true;
  }

  /** Index of the first position >= pos, wrapping to 0. */
  #search(pos) {
    const index = this.#positions.findIndex((p) => p >= pos);
    return index === -1 ? 0 : index;
  }

  /** The owner of key, or null when the ring is empty. */
  getNode(key) {
    if (this.#positions.length === 0) return null;
    return this.#owners[this.#search(this.#hash(key))];
  }

  /** Up to n distinct physical nodes met walking clockwise from key; [] when n <= 0. */
  getNodes(key, n) {
    const want = Math.min(n, this.#members.size);
    if (!(want > 0)) return [];
    const owners = this.#owners;
    const start = this.#search(this.#hash(key));
    const seen = new Set();
    for (let step = 0; step < owners.length && seen.size < want; step++) {
      seen.add(owners[(start + step) % owners.length]);
    }
    return [...seen];
  }

  /** Member names in ascending order. */
  nodes() {
    return [...this.#members].sort();
  }

  /** Number of physical nodes. */
  get size() {
    return this.#members.size;
  }
}

module.exports = { HashRing, hash64, DEFAULT_VNODES };
