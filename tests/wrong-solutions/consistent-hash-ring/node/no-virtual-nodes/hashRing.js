'use strict';

// WRONG: each node sits on the ring once, at the hash of its name; the vnodes
// option is ignored, so keys are split very unevenly.

const crypto = require('node:crypto');

const DEFAULT_VNODES = 160;

function hash64(s) {
  return crypto.createHash('md5').update(s, 'utf8').digest().readBigUInt64BE(0);
}

class HashRing {
  constructor({ vnodes = DEFAULT_VNODES, hash = hash64 } = {}) {
    if (!Number.isInteger(vnodes) || vnodes < 1) throw new RangeError('vnodes must be >= 1');
    this.hash = hash;
    this.points = []; // { pos, node } sorted by pos
  }

  addNode(name) {
    if (this.points.some((p) => p.node === name)) return false;
    this.points.push({ pos: this.hash(name), node: name });
    this.points.sort((a, b) => (a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : a.node < b.node ? -1 : 1));
    return true;
  }

  removeNode(name) {
    const before = this.points.length;
    this.points = this.points.filter((p) => p.node !== name);
    return this.points.length !== before;
  }

  getNode(key) {
    return this.getNodes(key, 1)[0] ?? null;
  }

  getNodes(key, n) {
    if (n <= 0 || this.points.length === 0) return [];
    const h = this.hash(key);
    let start = this.points.findIndex((p) => p.pos >= h);
    if (start === -1) start = 0;
    const out = [];
    for (let i = 0; i < Math.min(n, this.points.length); i++) {
      out.push(this.points[(start + i) % this.points.length].node);
    }
    return out;
  }

  nodes() {
    return this.points.map((p) => p.node).sort();
  }

  get size() {
    return this.points.length;
  }
}

module.exports = { HashRing, hash64, DEFAULT_VNODES };
