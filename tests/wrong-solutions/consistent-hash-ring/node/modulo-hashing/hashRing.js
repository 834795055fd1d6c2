'use strict';

// WRONG: picks members[hash(key) % N] from the sorted members instead of using
// a ring, so most keys move whenever a node joins or leaves.

const crypto = require('node:crypto');

const DEFAULT_VNODES = 160;

function hash64(s) {
  return crypto.createHash('md5').update(s, 'utf8').digest().readBigUInt64BE(0);
}

class HashRing {
  constructor({ vnodes = DEFAULT_VNODES, hash = hash64 } = {}) {
    if (!Number.isInteger(vnodes) || vnodes < 1) throw new RangeError('vnodes must be >= 1');
    this.hash = hash;
    this.members = [];
  }

  addNode(name) {
    if (this.members.includes(name)) return false;
    this.members = [...this.members, name].sort();
    return true;
  }

  removeNode(name) {
    if (!this.members.includes(name)) return false;
    this.members = this.members.filter((m) => m !== name);
    return true;
  }

  getNode(key) {
    if (this.members.length === 0) return null;
    return this.members[Number(this.hash(key) % BigInt(this.members.length))];
  }

  getNodes(key, n) {
    const count = this.members.length;
    if (count === 0 || n <= 0) return [];
    const start = Number(this.hash(key) % BigInt(count));
    return Array.from({ length: Math.min(n, count) }, (_, i) => this.members[(start + i) % count]);
  }

  nodes() {
    return [...this.members];
  }

  get size() {
    return this.members.length;
  }
}

module.exports = { HashRing, hash64, DEFAULT_VNODES };
