'use strict';

// WRONG: hash64 turns the first 16 hex digits of the MD5 into a Number with
// parseInt. Numbers only hold 53 bits, so positions lose precision and hash64
// does not return the exact unsigned 64-bit value (a BigInt).

const crypto = require('node:crypto');

const DEFAULT_VNODES = 160;

function hash64(s) {
  return parseInt(crypto.createHash('md5').update(s, 'utf8').digest('hex').slice(0, 16), 16);
}

class HashRing {
  constructor({ vnodes = DEFAULT_VNODES, hash = hash64 } = {}) {
    if (!Number.isInteger(vnodes) || vnodes < 1) throw new RangeError('vnodes must be >= 1');
    this.vnodes = vnodes;
    this.hash = hash;
    this.ring = []; // { pos, node } sorted by pos
    this.members = new Set();
  }

  addNode(name) {
    if (this.members.has(name)) return false;
    this.members.add(name);
    for (let i = 0; i < this.vnodes; i++) {
      this.ring.push({ pos: this.hash(`${name}#${i}`), node: name });
    }
    this.ring.sort((a, b) => (a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : a.node < b.node ? -1 : 1));
    return true;
  }

  removeNode(name) {
    if (!this.members.delete(name)) return false;
    this.ring = this.ring.filter((p) => p.node !== name);
    return true;
  }

  indexFor(key) {
    const h = this.hash(key);
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ring[mid].pos < h) lo = mid + 1;
      else hi = mid;
    }
    return lo % this.ring.length;
  }

  getNode(key) {
    if (this.ring.length === 0) return null;
    return this.ring[this.indexFor(key)].node;
  }

  getNodes(key, n) {
    const result = [];
    if (n <= 0 || this.ring.length === 0) return result;
    const start = this.indexFor(key);
    for (let i = 0; i < this.ring.length && result.length < Math.min(n, this.members.size); i++) {
      const node = this.ring[(start + i) % this.ring.length].node;
      if (!result.includes(node)) result.push(node);
    }
    return result;
  }

  nodes() {
    return [...this.members].sort();
  }

  get size() {
    return this.members.size;
  }
}

module.exports = { HashRing, hash64, DEFAULT_VNODES };
