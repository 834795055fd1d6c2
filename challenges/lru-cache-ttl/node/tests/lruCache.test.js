'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const v8 = require('node:v8');
const vm = require('node:vm');
const { isDeepStrictEqual } = require('node:util');
const { LRUCache } = require('./lruCache.js');

// ------------------------------------------------------------------ helpers

const START_MS = 1_000_000; // the fake clock starts at an arbitrary non-zero time

class FakeClock {
  constructor() {
    this.t = START_MS;
  }

  now() {
    return this.t;
  }

  advance(ms) {
    this.t += ms;
  }
}

function newCache(capacity) {
  const clock = new FakeClock();
  return { cache: new LRUCache(capacity, clock), clock };
}

function expectHit(cache, key, want) {
  const got = cache.get(key);
  if (got === undefined) {
    assert.fail(`get(${JSON.stringify(key)}): expected a hit with value ${JSON.stringify(want)}, got a miss`);
  }
  assert.equal(got, want, `get(${JSON.stringify(key)}): expected value ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

function expectMiss(cache, key) {
  const got = cache.get(key);
  if (got !== undefined) {
    assert.fail(`get(${JSON.stringify(key)}): expected a miss (undefined), got ${JSON.stringify(got)}`);
  }
}

function expectSize(cache, want) {
  assert.equal(cache.size, want, `size: expected ${want} stored entries, got ${cache.size}`);
}

function expectStats(cache, want) {
  const full = { hits: 0, misses: 0, evictions: 0, expirations: 0, ...want };
  const got = cache.stats();
  assert.deepStrictEqual(got, full, `stats(): expected ${JSON.stringify(full)}, got ${JSON.stringify(got)}`);
}

// A small seeded PRNG (mulberry32) so the random tests are reproducible.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { int: (n) => Math.floor(next() * n) };
}

// ------------------------------------------------------------------ basics

describe('basics', () => {
  it('get on an empty cache is a miss', () => {
    const { cache } = newCache(3);
    expectMiss(cache, 'a');
    expectStats(cache, { misses: 1 });
    expectSize(cache, 0);
  });

  it('put then get returns the value', () => {
    const { cache } = newCache(3);
    cache.put('a', 1, 0);
    expectSize(cache, 1);
    expectHit(cache, 'a', 1);
    expectStats(cache, { hits: 1 });
  });

  it('the TTL defaults to never expiring', () => {
    const { cache, clock } = newCache(3);
    cache.put('a', 1);
    clock.advance(1e12);
    expectHit(cache, 'a', 1);
  });

  it('put on an existing key replaces the value without growing', () => {
    const { cache } = newCache(3);
    cache.put('a', 1, 0);
    cache.put('a', 2, 0);
    expectSize(cache, 1);
    expectHit(cache, 'a', 2);
    expectStats(cache, { hits: 1 });
  });

  it('keys are isolated from each other (and compared like Map keys)', () => {
    const { cache } = newCache(5);
    cache.put('a', 1, 0);
    cache.put('b', 2, 0);
    cache.put('1', 'string one', 0);
    cache.put(1, 'number one', 0);
    expectHit(cache, 'a', 1);
    expectHit(cache, 'b', 2);
    expectHit(cache, '1', 'string one');
    expectHit(cache, 1, 'number one');
    assert.equal(cache.delete('a'), true, "delete('a') of a live entry: expected true");
    expectMiss(cache, 'a');
    expectHit(cache, 'b', 2);
    expectHit(cache, 1, 'number one');
    expectSize(cache, 3);
  });

  it('a capacity below 1 is rejected with a RangeError', () => {
    for (const capacity of [0, -1]) {
      assert.throws(() => new LRUCache(capacity, new FakeClock()), RangeError,
        `new LRUCache(${capacity}, clock): expected a RangeError`);
    }
  });

  it('a negative TTL is rejected with a RangeError and changes nothing', () => {
    const { cache } = newCache(1);
    cache.put('a', 1, 0);
    assert.throws(() => cache.put('a', 2, -1), RangeError, "put('a', 2, -1): expected a RangeError");
    assert.throws(() => cache.put('b', 2, -1), RangeError, "put('b', 2, -1): expected a RangeError");
    expectSize(cache, 1);
    expectHit(cache, 'a', 1);
    expectMiss(cache, 'b');
    expectStats(cache, { hits: 1, misses: 1 });
  });
});

// ------------------------------------------------------------------ recency

describe('least recently used eviction', () => {
  it('inserting beyond capacity evicts the least recently used entry', () => {
    const { cache } = newCache(3);
    for (const k of 'abcd') cache.put(k, k.toUpperCase(), 0);
    expectSize(cache, 3);
    expectStats(cache, { evictions: 1 });
    expectMiss(cache, 'a');
    for (const k of 'bcd') expectHit(cache, k, k.toUpperCase());
  });

  it('get makes an entry the most recently used', () => {
    const { cache } = newCache(3);
    for (const k of 'abc') cache.put(k, k, 0);
    expectHit(cache, 'a', 'a'); // order (LRU first): b c a
    cache.put('d', 'd', 0); // evicts b
    expectMiss(cache, 'b');
    for (const k of 'acd') expectHit(cache, k, k);
    expectStats(cache, { hits: 4, misses: 1, evictions: 1 });
  });

  it('put on an existing key makes it the most recently used', () => {
    const { cache } = newCache(3);
    for (const k of 'abc') cache.put(k, k, 0);
    cache.put('a', 'a2', 0); // order: b c a
    cache.put('d', 'd', 0); // evicts b
    expectMiss(cache, 'b');
    expectHit(cache, 'a', 'a2');
    expectStats(cache, { hits: 1, misses: 1, evictions: 1 });
  });

  it('a miss does not change the recency order', () => {
    const { cache } = newCache(2);
    cache.put('a', 1, 0);
    cache.put('b', 2, 0);
    expectMiss(cache, 'zzz');
    cache.put('c', 3, 0); // still evicts a
    expectMiss(cache, 'a');
    expectHit(cache, 'b', 2);
    expectHit(cache, 'c', 3);
    expectStats(cache, { hits: 2, misses: 2, evictions: 1 });
  });

  it('capacity 1 keeps only the newest entry', () => {
    const { cache } = newCache(1);
    for (let i = 0; i < 5; i++) {
      cache.put(`k${i}`, `v${i}`, 0);
      expectSize(cache, 1);
    }
    expectHit(cache, 'k4', 'v4');
    expectMiss(cache, 'k3');
    expectStats(cache, { hits: 1, misses: 1, evictions: 4 });
  });

  it('eviction order follows recency over a longer sequence', () => {
    const { cache } = newCache(4);
    for (const k of 'abcd') cache.put(k, k, 0);
    // order (LRU first): a b c d
    expectHit(cache, 'b', 'b'); // a c d b
    expectHit(cache, 'a', 'a'); // c d b a
    cache.put('c', 'c2', 0); // d b a c
    cache.put('e', 'e', 0); // evicts d -> b a c e
    cache.put('f', 'f', 0); // evicts b -> a c e f
    expectHit(cache, 'a', 'a'); // c e f a
    cache.put('g', 'g', 0); // evicts c -> e f a g
    for (const k of 'bcd') expectMiss(cache, k);
    for (const k of 'efag') expectHit(cache, k, k);
    expectStats(cache, { hits: 7, misses: 3, evictions: 3 });
  });
});

// ------------------------------------------------------------------ expiry

describe('expiry', () => {
  it('an entry is live 1 ms before its expiry and expired exactly at it', () => {
    const { cache, clock } = newCache(3);
    cache.put('a', 1, 100); // expires at start + 100
    clock.advance(99);
    expectHit(cache, 'a', 1);
    clock.advance(1); // now === expiresAt: expired
    expectMiss(cache, 'a');
    expectSize(cache, 0);
    expectStats(cache, { hits: 1, misses: 1, expirations: 1 });
  });

  it('a TTL of 1 ms expires on the next millisecond', () => {
    const { cache, clock } = newCache(3);
    cache.put('a', 1, 1);
    expectHit(cache, 'a', 1);
    clock.advance(1);
    expectMiss(cache, 'a');
    expectStats(cache, { hits: 1, misses: 1, expirations: 1 });
  });

  it('a zero TTL never expires', () => {
    const { cache, clock } = newCache(3);
    cache.put('a', 1, 0);
    clock.advance(1e12);
    expectHit(cache, 'a', 1);
    expectStats(cache, { hits: 1 });
  });

  it('expiry is counted from the put, not from cache creation', () => {
    const { cache, clock } = newCache(3);
    clock.advance(500);
    cache.put('a', 1, 100);
    clock.advance(99);
    expectHit(cache, 'a', 1);
    clock.advance(1);
    expectMiss(cache, 'a');
  });

  it('get does not extend the TTL', () => {
    const { cache, clock } = newCache(3);
    cache.put('a', 1, 100);
    for (let i = 0; i < 9; i++) {
      clock.advance(10);
      expectHit(cache, 'a', 1);
    }
    clock.advance(10);
    expectMiss(cache, 'a');
    expectStats(cache, { hits: 9, misses: 1, expirations: 1 });
  });

  it('put on an existing key resets its TTL', () => {
    const { cache, clock } = newCache(3);
    cache.put('a', 1, 100);
    clock.advance(50);
    cache.put('a', 2, 100); // now expires at +150
    clock.advance(99);
    expectHit(cache, 'a', 2);
    clock.advance(1);
    expectMiss(cache, 'a');

    cache.put('b', 1, 10);
    cache.put('b', 2, 0); // TTL 0 removes the expiry
    clock.advance(1_000_000);
    expectHit(cache, 'b', 2);

    cache.put('c', 1, 0);
    cache.put('c', 2, 5); // and a TTL can be added later
    clock.advance(5);
    expectMiss(cache, 'c');
    expectStats(cache, { hits: 2, misses: 2, expirations: 2 });
  });

  it('each entry has its own TTL', () => {
    const { cache, clock } = newCache(3);
    cache.put('short', 's', 50);
    cache.put('long', 'l', 200);
    cache.put('forever', 'f', 0);
    clock.advance(100);
    expectMiss(cache, 'short');
    expectHit(cache, 'long', 'l');
    expectHit(cache, 'forever', 'f');
    clock.advance(100);
    expectMiss(cache, 'long');
    expectHit(cache, 'forever', 'f');
    expectStats(cache, { hits: 3, misses: 2, expirations: 2 });
  });

  it('an expired get counts as a miss and an expiration, not an eviction', () => {
    const { cache, clock } = newCache(3);
    cache.put('a', 1, 10);
    clock.advance(10);
    expectMiss(cache, 'a');
    expectStats(cache, { misses: 1, expirations: 1 });
    expectMiss(cache, 'a'); // already removed: a plain miss
    expectStats(cache, { misses: 2, expirations: 1 });
  });

  it('expired entries stay stored until something touches them', () => {
    const { cache, clock } = newCache(3);
    cache.put('a', 1, 10);
    cache.put('b', 2, 10);
    clock.advance(50);
    expectSize(cache, 2);
    expectStats(cache, {});
    expectMiss(cache, 'a');
    expectSize(cache, 1);
    expectStats(cache, { misses: 1, expirations: 1 });
  });

  it('a full cache removes an expired least recently used entry as an expiration', () => {
    const { cache, clock } = newCache(2);
    cache.put('x', 1, 10);
    cache.put('y', 2, 0);
    clock.advance(50);
    expectSize(cache, 2);
    cache.put('z', 3, 0); // x is the LRU and expired
    expectStats(cache, { expirations: 1 });
    expectSize(cache, 2);
    expectHit(cache, 'y', 2);
    expectHit(cache, 'z', 3);
  });

  it('only the least recently used entry is evicted, even if another has expired', () => {
    const { cache, clock } = newCache(2);
    cache.put('a', 1, 0);
    cache.put('b', 2, 10);
    clock.advance(50);
    cache.put('c', 3, 0); // LRU is a (live): evicted; b stays stored although expired
    expectStats(cache, { evictions: 1 });
    expectSize(cache, 2);
    expectMiss(cache, 'b');
    expectStats(cache, { misses: 1, evictions: 1, expirations: 1 });
    expectMiss(cache, 'a');
    expectHit(cache, 'c', 3);
  });

  it('put over an expired key counts one expiration and stores a fresh entry', () => {
    const { cache, clock } = newCache(2);
    cache.put('a', 1, 10);
    cache.put('b', 2, 0);
    clock.advance(20);
    cache.put('a', 'new', 10); // expired -> replaced, now most recently used
    expectStats(cache, { expirations: 1 });
    expectSize(cache, 2);
    cache.put('c', 3, 0); // evicts b, not a
    expectStats(cache, { evictions: 1, expirations: 1 });
    expectHit(cache, 'a', 'new');
    expectMiss(cache, 'b');
    clock.advance(10);
    expectMiss(cache, 'a');
    expectStats(cache, { hits: 1, misses: 2, evictions: 1, expirations: 2 });
  });
});

// ------------------------------------------------------------------ delete and stats

describe('delete and stats', () => {
  it('delete removes a live entry and frees its slot', () => {
    const { cache } = newCache(2);
    cache.put('a', 1, 0);
    cache.put('b', 2, 0);
    assert.equal(cache.delete('a'), true, "delete('a') of a live entry: expected true");
    expectSize(cache, 1);
    cache.put('c', 3, 0); // there is room: nothing evicted
    expectStats(cache, {});
    expectHit(cache, 'b', 2);
    expectHit(cache, 'c', 3);
    expectMiss(cache, 'a');
  });

  it('delete of an absent or expired key returns false', () => {
    const { cache, clock } = newCache(3);
    assert.equal(cache.delete('nope'), false, "delete('nope') of an absent key: expected false");
    cache.put('a', 1, 10);
    clock.advance(10);
    assert.equal(cache.delete('a'), false, "delete('a') of an expired entry: expected false");
    expectSize(cache, 0);
    expectStats(cache, { expirations: 1 });
    assert.equal(cache.delete('a'), false, "second delete('a'): expected false");
    expectStats(cache, { expirations: 1 });
  });

  it('stats start at zero and puts never count as hits or misses', () => {
    const { cache } = newCache(2);
    expectStats(cache, {});
    cache.put('a', 1, 0);
    cache.put('a', 2, 0);
    cache.put('b', 1, 0);
    expectStats(cache, {});
  });

  it('stats() returns a snapshot that later operations do not change', () => {
    const { cache } = newCache(2);
    cache.put('a', 1, 0);
    cache.get('a');
    const snapshot = cache.stats();
    cache.get('a');
    cache.get('zzz');
    assert.deepStrictEqual(snapshot, { hits: 1, misses: 0, evictions: 0, expirations: 0 },
      `an earlier stats() snapshot must not change, got ${JSON.stringify(snapshot)}`);
    snapshot.hits = 1000; // and changing a snapshot does not change the cache
    expectStats(cache, { hits: 2, misses: 1 });
  });

  it('the README examples work as described', () => {
    let { cache, clock } = newCache(2);
    cache.put('a', '1', 100);
    cache.put('b', '2', 0);
    expectHit(cache, 'a', '1');
    cache.put('c', '3', 0);
    expectStats(cache, { hits: 1, evictions: 1 });
    expectMiss(cache, 'b');
    clock.advance(99);
    expectHit(cache, 'a', '1');
    clock.advance(1);
    expectMiss(cache, 'a');
    expectSize(cache, 1);
    expectStats(cache, { hits: 2, misses: 2, evictions: 1, expirations: 1 });

    ({ cache, clock } = newCache(2));
    cache.put('x', '1', 10);
    cache.put('y', '2', 0);
    clock.advance(50);
    expectSize(cache, 2);
    cache.put('z', '3', 0);
    expectStats(cache, { expirations: 1 });
  });
});

// ------------------------------------------------------------------ model check

/** A deliberately simple (slow) cache that follows the README rules. */
class Model {
  constructor(capacity) {
    this.capacity = capacity;
    this.entries = []; // { key, value, expiresAt|null }, least recently used first
    this.counts = { hits: 0, misses: 0, evictions: 0, expirations: 0 };
  }

  static expired(e, now) {
    return e.expiresAt !== null && now >= e.expiresAt;
  }

  get(key, now) {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i < 0) {
      this.counts.misses++;
      return undefined;
    }
    const [e] = this.entries.splice(i, 1);
    if (Model.expired(e, now)) {
      this.counts.misses++;
      this.counts.expirations++;
      return undefined;
    }
    this.counts.hits++;
    this.entries.push(e);
    return e.value;
  }

  put(key, value, ttl, now) {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i >= 0) {
      if (Model.expired(this.entries[i], now)) this.counts.expirations++;
      this.entries.splice(i, 1);
    } else if (this.entries.length === this.capacity) {
      if (Model.expired(this.entries[0], now)) this.counts.expirations++;
      else this.counts.evictions++;
      this.entries.shift();
    }
    this.entries.push({ key, value, expiresAt: ttl > 0 ? now + ttl : null });
  }

  delete(key, now) {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i < 0) return false;
    const [e] = this.entries.splice(i, 1);
    if (Model.expired(e, now)) {
      this.counts.expirations++;
      return false;
    }
    return true;
  }
}

describe('model check', () => {
  it('random operations match a simple reference model', () => {
    const r = rng(20240611);
    for (const capacity of [1, 2, 4, 7]) {
      const { cache, clock } = newCache(capacity);
      const model = new Model(capacity);
      const history = [];
      const check = (what, got, want) => {
        if (!isDeepStrictEqual(got, want)) {
          assert.fail(`capacity ${capacity}, after these operations (most recent last):\n  `
            + `${history.slice(-12).join('\n  ')}\n${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
        }
      };
      for (let op = 0; op < 700; op++) {
        const key = `k${r.int(capacity + 3)}`;
        const now = clock.now() - START_MS;
        const roll = r.int(100);
        if (roll < 35) {
          history.push(`t=${now} get('${key}')`);
          check(`get('${key}')`, cache.get(key), model.get(key, now));
        } else if (roll < 70) {
          const ttl = r.int(10) < 3 ? 0 : 1 + r.int(25);
          const value = `v${op}`;
          history.push(`t=${now} put('${key}', '${value}', ${ttl})`);
          model.put(key, value, ttl, now);
          cache.put(key, value, ttl);
        } else if (roll < 80) {
          history.push(`t=${now} delete('${key}')`);
          check(`delete('${key}')`, cache.delete(key), model.delete(key, now));
        } else {
          const step = r.int(12);
          history.push(`advance clock by ${step}ms`);
          clock.advance(step);
        }
        check('size', cache.size, model.entries.length);
        check('stats()', cache.stats(), model.counts);
      }
    }
  });
});

// ------------------------------------------------------------------ interleaved async callers

const WORKERS = 8;
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Filling the cache with fresh keys must remove every older entry exactly once. */
function expectConsistentAfterInterleaving(cache, capacity) {
  const before = cache.stats();
  const stored = cache.size;
  assert.ok(stored <= capacity, `size: expected at most ${capacity} entries, got ${stored}`);
  for (let i = 0; i < capacity; i++) cache.put(`fresh-${i}`, 'f', 0);
  const after = cache.stats();
  const removed = (after.evictions - before.evictions) + (after.expirations - before.expirations);
  assert.equal(removed, stored, `the cache held ${stored} entries; putting ${capacity} fresh keys should remove `
    + `exactly those, but it counted ${removed} evictions+expirations`);
  expectSize(cache, capacity);
  for (let i = 0; i < capacity; i++) expectHit(cache, `fresh-${i}`, 'f');
}

describe('interleaved async callers (Node\'s form of thread safety)', () => {
  it('every method returns its result synchronously, never a promise', () => {
    const { cache } = newCache(2);
    const results = {
      'put()': cache.put('a', 1, 0),
      'get() (hit)': cache.get('a'),
      'get() (miss)': cache.get('zzz'),
      'delete()': cache.delete('a'),
      'stats()': cache.stats(),
      size: cache.size,
    };
    for (const [what, value] of Object.entries(results)) {
      assert.ok(!(value && typeof value.then === 'function'),
        `${what} returned a promise; keep every method synchronous so async callers cannot interleave inside it`);
    }
    assert.equal(results['put()'], undefined, 'put() should return undefined');
    assert.equal(results['get() (hit)'], 1, 'get() of a live key should return its value');
  });

  it('interleaved async workers on separate keys see only their own values and exact counts', async () => {
    const keysPerWorker = 20;
    const rounds = 10;
    const { cache } = newCache(WORKERS * keysPerWorker);
    const worker = async (w) => {
      for (let r = 0; r < rounds; r++) {
        const want = `w${w}-r${r}`;
        for (let k = 0; k < keysPerWorker; k++) {
          cache.put(`w${w}-k${k}`, want, 3_600_000);
          if (k % 3 === 0) await null;
        }
        await tick();
        for (let k = 0; k < keysPerWorker; k++) {
          const got = cache.get(`w${w}-k${k}`);
          assert.equal(got, want, `worker ${w}: get('w${w}-k${k}') expected ${want}, got ${got}`);
          if (k % 4 === 0) await null;
        }
        for (let k = 0; k < keysPerWorker; k += 5) {
          assert.equal(cache.delete(`w${w}-k${k}`), true, `worker ${w}: delete('w${w}-k${k}') expected true`);
          await null;
          assert.equal(cache.get(`w${w}-k${k}`), undefined, `worker ${w}: get('w${w}-k${k}') after delete expected a miss`);
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    expectStats(cache, { hits: WORKERS * rounds * keysPerWorker, misses: WORKERS * rounds * keysPerWorker / 5 });
    expectSize(cache, WORKERS * keysPerWorker * 4 / 5);
  });

  it('interleaved async readers count each expired entry exactly once', async () => {
    const keys = 100;
    const { cache, clock } = newCache(keys);
    for (let k = 0; k < keys; k++) cache.put(`k${k}`, 'v', 10);
    clock.advance(10);
    const worker = async (w) => {
      for (let k = 0; k < keys; k++) { // every worker reads the same keys in the same order
        assert.equal(cache.get(`k${k}`), undefined, `worker ${w}: get('k${k}') of an expired key expected a miss`);
        await null;
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    expectStats(cache, { misses: WORKERS * keys, expirations: keys });
    expectSize(cache, 0);
    expectConsistentAfterInterleaving(cache, keys);
  });

  it('interleaved async cache-aside workers keep exact hit and miss counts', async () => {
    const capacity = 8;
    const universe = 24;
    const perWorker = 200;
    const { cache, clock } = newCache(capacity);
    const hits = new Array(WORKERS).fill(0);
    const misses = new Array(WORKERS).fill(0);
    const worker = async (w) => {
      const r = rng(w + 1);
      for (let i = 0; i < perWorker; i++) {
        const k = `k${r.int(universe)}`;
        const got = cache.get(k);
        if (got === undefined) {
          misses[w]++;
          await null; // "load" the value; other workers run meanwhile
          cache.put(k, `v-${k}`, 1 + r.int(50));
        } else {
          hits[w]++;
          assert.equal(got, `v-${k}`, `worker ${w}: get('${k}') expected v-${k}, got ${got}`);
        }
        if (i % 10 === 0) await tick();
        if (w === 0 && i % 25 === 0) clock.advance(1);
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    const sum = (a) => a.reduce((x, y) => x + y, 0);
    const got = cache.stats();
    assert.deepStrictEqual({ hits: got.hits, misses: got.misses }, { hits: sum(hits), misses: sum(misses) },
      `the workers saw ${sum(hits)} hits and ${sum(misses)} misses, the cache counted ${got.hits} and ${got.misses}`);
    expectConsistentAfterInterleaving(cache, capacity);
  });
});

// ------------------------------------------------------------------ complexity and memory

const STEPS_PER_CHUNK = 100; // tens of microseconds for a constant-time cache
const WARMUP_ROUNDS = 5;
const MIN_ROUNDS = 10;
const MAX_ROUNDS = 60;
const BUDGET_MS = 250;

/**
 * A full cache of n entries driven step by step. Each step puts a new key
 * (which evicts the least recently used entry) and gets three keys put up to
 * n/4 steps earlier (hits spread over the recency order). Keys and offsets are
 * made up front so a timed chunk only calls the cache.
 */
function workload(n) {
  const steps = (WARMUP_ROUNDS + MAX_ROUNDS) * STEPS_PER_CHUNK;
  const keys = Array.from({ length: n + steps }, (_, i) => `key-${i}`);
  const r = rng(n);
  const back = Int32Array.from({ length: 3 * steps }, () => r.int(Math.floor((n - 3) / 4) + 1));
  const cache = new LRUCache(n, new FakeClock());
  for (let i = 0; i < n; i++) cache.put(keys[i], 'v', 0);
  return { cache, keys, back, pos: n, b: 0 };
}

/** Runs one chunk of steps and returns its nanoseconds per step. */
function timeChunk(w) {
  const { cache, keys, back } = w;
  let { pos, b } = w;
  const start = process.hrtime.bigint();
  for (let i = 0; i < STEPS_PER_CHUNK; i++, pos++) {
    cache.put(keys[pos], 'v', 0);
    for (let g = 0; g < 3; g++) cache.get(keys[pos - back[b++]]);
  }
  const ns = Number(process.hrtime.bigint() - start) / STEPS_PER_CHUNK;
  w.pos = pos;
  w.b = b;
  return ns;
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

describe('complexity and memory', () => {
  it('operations stay constant-time as the cache grows (10,000 vs 10 entries)', () => {
    // Short chunks on a small and a large cache, interleaved, keeping the fastest
    // chunk of each: a busy machine only ever makes chunks slower, so the fastest
    // ones are the true costs. A cache that scans its entries stays ~100x slower
    // at 10,000 entries in every chunk.
    const limit = 10;
    const small = workload(10);
    const large = workload(10_000);
    for (let round = 0; round < WARMUP_ROUNDS; round++) { // let the JIT compile the cache first
      timeChunk(small);
      timeChunk(large);
    }
    let smallNs = Infinity;
    let largeNs = Infinity;
    const start = Date.now();
    let rounds = 0;
    while (rounds < MAX_ROUNDS) {
      if (rounds % 2 === 0) {
        smallNs = Math.min(smallNs, timeChunk(small));
        largeNs = Math.min(largeNs, timeChunk(large));
      } else {
        largeNs = Math.min(largeNs, timeChunk(large));
        smallNs = Math.min(smallNs, timeChunk(small));
      }
      rounds++;
      if (rounds >= MIN_ROUNDS && (largeNs <= limit * smallNs || Date.now() - start >= BUDGET_MS)) break;
    }
    assert.ok(largeNs <= limit * smallNs,
      `expected one put + three gets with 10,000 entries to cost at most ${limit}x the cost with 10 entries, `
      + `got ${largeNs.toFixed(0)} ns vs ${smallNs.toFixed(0)} ns (${(largeNs / smallNs).toFixed(1)}x, fastest of `
      + `${rounds} chunks of ${STEPS_PER_CHUNK} steps each): some operation scans the entries`);
  });

  it('removed keys and values are released', async () => {
    const { cache, clock } = newCache(2);
    let k1 = { id: 1 };
    let k2 = { id: 2 };
    let k3 = { id: 3 };
    let v1 = { v: 1 };
    let v2 = { v: 2 };
    let v3 = { v: 3 };
    let v4 = { v: 4 };
    const refs = {
      k1: new WeakRef(k1), k2: new WeakRef(k2), k3: new WeakRef(k3),
      v1: new WeakRef(v1), v2: new WeakRef(v2), v3: new WeakRef(v3), v4: new WeakRef(v4),
    };
    const expectReleased = async (released) => {
      await tick(); // WeakRef targets stay alive until the current job ends
      gc();
      for (const [name, what] of Object.entries(released)) {
        assert.equal(refs[name].deref(), undefined, `expected the cache to release ${what}, but it is still reachable`);
      }
    };

    cache.put(k1, v1, 0);
    cache.put(k2, v2, 10);
    cache.put(k1, v4, 0); // v1 replaced by v4
    v1 = null;
    v4 = null;
    await expectReleased({ v1: 'a value replaced by a later put' });

    clock.advance(10);
    assert.equal(cache.get(k2), undefined, 'get of an expired key: expected a miss');
    k2 = null;
    v2 = null;
    await expectReleased({
      k2: 'the key of an expired entry removed by get',
      v2: 'the value of an expired entry removed by get',
    });

    cache.put(k3, v3, 0);
    cache.put({ id: 4 }, { v: 5 }, 0); // evicts k1
    k1 = null;
    await expectReleased({ k1: 'the key of an evicted entry', v4: 'the value of an evicted entry' });

    assert.equal(cache.delete(k3), true, 'delete of a live entry: expected true');
    k3 = null;
    v3 = null;
    await expectReleased({ k3: 'the key of a deleted entry', v3: 'the value of a deleted entry' });
  });

  it('memory stays flat under a long run of hits', async () => {
    const { cache } = newCache(10);
    const keys = Array.from({ length: 10 }, (_, i) => `hot-${i}`);
    for (const k of keys) cache.put(k, 'v', 0);
    expectHit(cache, keys[0], 'v');
    for (let i = 0; i < 5_000; i++) cache.get(keys[i % 10]); // warm up
    await tick();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 200_000; i++) {
      if (cache.get(keys[i % 10]) === undefined) assert.fail(`get('${keys[i % 10]}'): expected a hit, got a miss`);
    }
    await tick();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 1024 * 1024, `expected the heap to stay flat while reading 10 cached keys 200,000 times, `
      + `it grew by ${Math.round(grown / 1024)} KiB: the cache keeps recency records it no longer needs`);
  });
});
