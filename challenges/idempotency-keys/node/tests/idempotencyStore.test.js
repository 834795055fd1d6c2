'use strict';

const { before, describe, it } = require('node:test');
const assert = require('node:assert/strict');
const v8 = require('node:v8');
const vm = require('node:vm');
const { IdempotencyStore, IdempotencyConflictError } = require('./idempotencyStore.js');

const TTL = 60_000; // one minute, in milliseconds
const START = 1_000_000; // the fake clock's first reading
const WATCHDOG_MS = 2_000; // only ever reached when the store under test is broken

class FakeClock {
  constructor() {
    this.now = START;
  }
  nowMillis() {
    return this.now;
  }
  advance(millis) {
    this.now += millis;
  }
  describe() {
    return `t=+${this.now - START}ms`;
  }
}

/** A handler that counts its executions and answers 'charge-<n>'. */
function charges() {
  const handler = async () => `charge-${++handler.count}`;
  handler.count = 0;
  return handler;
}

function mustNotRun(why) {
  return () => {
    throw new assert.AssertionError({ message: `the handler ran, but it must not: ${why}` });
  };
}

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending microtask and one macrotask turn run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Calls execute and captures its outcome; a synchronous throw is a failure of its own. */
function call(store, clientId, key, payload, handler) {
  let tracked;
  try {
    tracked = Promise.resolve(store.execute(clientId, key, payload, handler)).then(
      (value) => ({ value }),
      (error) => ({ error }),
    );
  } catch (error) {
    tracked = Promise.resolve({ syncThrow: error });
  }
  tracked.settled = false;
  tracked.then(() => {
    tracked.settled = true;
  });
  return tracked;
}

function show(outcome) {
  if (outcome.syncThrow) return `a synchronous throw of ${outcome.syncThrow} (execute must return a rejected promise instead)`;
  if ('error' in outcome) return `rejection with ${outcome.error && outcome.error.name}: ${outcome.error && outcome.error.message}`;
  return `response ${JSON.stringify(outcome.value)}`;
}

async function expectResponse(store, clientId, key, payload, handler, want, why) {
  const got = await call(store, clientId, key, payload, handler);
  assert.ok(!got.syncThrow && !('error' in got) && got.value === want,
    `${why}: execute(${JSON.stringify(clientId)}, ${JSON.stringify(key)}, ${JSON.stringify(payload)}) ` +
    `expected response ${JSON.stringify(want)}, got ${show(got)}`);
}

async function expectConflict(store, clientId, key, payload, why) {
  const got = await call(store, clientId, key, payload, mustNotRun(why));
  assert.ok(got.error instanceof IdempotencyConflictError,
    `${why}: execute(${JSON.stringify(clientId)}, ${JSON.stringify(key)}, ${JSON.stringify(payload)}) ` +
    `expected a rejection with IdempotencyConflictError, got ${show(got)}`);
}

function expectCount(handler, want, why) {
  assert.equal(handler.count, want,
    `${why}: expected the handler to have run ${want} time(s), but it ran ${handler.count} time(s)`);
}

function expectSize(store, want, why) {
  const got = store.size();
  assert.equal(got, want, `${why}: expected size() === ${want}, got ${got}`);
}

function newStore(clock = new FakeClock(), ttl = TTL) {
  return new IdempotencyStore(clock, ttl);
}

describe('requests and replays', () => {
  it('rejects a non-positive TTL with a RangeError', () => {
    for (const bad of [0, -1]) {
      assert.throws(() => new IdempotencyStore(new FakeClock(), bad), RangeError,
        `new IdempotencyStore(clock, ${bad}) should throw a RangeError`);
    }
  });

  it('runs the handler for the first request and returns its response', async () => {
    const store = newStore();
    const handler = charges();
    await expectResponse(store, 'client-1', 'key-1', '{"amount":100}', handler, 'charge-1', 'first request');
    expectCount(handler, 1, 'after the first request');
  });

  it('replays the stored response to a retry with the same key and payload without running the handler', async () => {
    const store = newStore();
    const handler = charges();
    await expectResponse(store, 'client-1', 'key-1', '{"amount":100}', handler, 'charge-1', 'first request');
    for (let i = 1; i <= 3; i++) {
      await expectResponse(store, 'client-1', 'key-1', '{"amount":100}', handler, 'charge-1', `retry ${i}`);
    }
    expectCount(handler, 1, 'after three retries of the same request');
  });

  it('rejects the same key with a different payload as a conflict', async () => {
    const store = newStore();
    const handler = charges();
    await expectResponse(store, 'client-1', 'key-1', '{"amount":100}', handler, 'charge-1', 'first request');
    // Same length as the first payload, only one digit differs.
    await expectConflict(store, 'client-1', 'key-1', '{"amount":900}', 'same key, different payload');
    expectCount(handler, 1, 'after a conflicting request');
  });

  it('does not replace the stored response after a conflict', async () => {
    const store = newStore();
    const handler = charges();
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-1', 'first request');
    await expectConflict(store, 'client-1', 'key-1', 'amount=999', 'same key, different payload');
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-1', 'retry with the original payload after a conflict');
    await expectConflict(store, 'client-1', 'key-1', 'amount=999', 'the conflicting payload again');
    expectCount(handler, 1, 'after conflicts and a replay');
  });

  it('executes different keys independently', async () => {
    const store = newStore();
    const handler = charges();
    await expectResponse(store, 'client-1', 'key-A', 'amount=100', handler, 'charge-1', 'key-A first request');
    await expectResponse(store, 'client-1', 'key-B', 'amount=100', handler, 'charge-2', 'key-B first request (same payload, other key)');
    await expectResponse(store, 'client-1', 'key-C', 'amount=555', handler, 'charge-3', 'key-C first request');
    await expectResponse(store, 'client-1', 'key-A', 'amount=100', handler, 'charge-1', 'key-A replay');
    await expectResponse(store, 'client-1', 'key-B', 'amount=100', handler, 'charge-2', 'key-B replay');
    expectCount(handler, 3, 'three distinct keys');
    expectSize(store, 3, 'three distinct keys stored');
  });

  it('executes the same key from different clients independently', async () => {
    const store = newStore();
    const handler = charges();
    await expectResponse(store, 'alice', 'order-1', 'amount=100', handler, 'charge-1', "alice's first request");
    // Bob may use the same key string with another payload: it is his own key.
    await expectResponse(store, 'bob', 'order-1', 'amount=700', handler, 'charge-2', "bob's first request with the same key");
    await expectResponse(store, 'alice', 'order-1', 'amount=100', handler, 'charge-1', "alice's replay");
    await expectResponse(store, 'bob', 'order-1', 'amount=700', handler, 'charge-2', "bob's replay");
    await expectConflict(store, 'alice', 'order-1', 'amount=700', "alice reusing her key with bob's payload");
    expectCount(handler, 2, 'two clients, one key each');
    expectSize(store, 2, 'two clients, one key each');
  });

  it('never confuses client and key, even when they contain separators', async () => {
    for (const sep of [':', '|', '/', '-', '_', '.', '#', ',', ';', ' ', '\0', '\n', '::', '\t', '","']) {
      const store = newStore();
      const handler = charges();
      const pairs = [[`a${sep}b`, 'c'], ['a', `b${sep}c`], [`a${sep}`, `b${sep}c`], ['a', `${sep}b${sep}c`]];
      for (const [i, [clientId, key]] of pairs.entries()) {
        await expectResponse(store, clientId, key, `p${i + 1}`, handler, `charge-${i + 1}`,
          `client ${JSON.stringify(clientId)} key ${JSON.stringify(key)} is its own (client, key) pair`);
      }
      expectSize(store, 4, `four distinct (client, key) pairs built with separator ${JSON.stringify(sep)}`);
    }
  });

  it('accepts a handler that returns a plain value instead of a promise', async () => {
    const store = newStore();
    let runs = 0;
    const plain = () => `plain-${++runs}`;
    await expectResponse(store, 'client-1', 'key-1', 'p', plain, 'plain-1', 'a synchronous handler');
    await expectResponse(store, 'client-1', 'key-1', 'p', plain, 'plain-1', 'replay of a synchronous handler');
    assert.equal(runs, 1, `expected the synchronous handler to run once, ran ${runs} times`);
  });
});

describe('failing handlers', () => {
  it('stores nothing when the handler fails, so the next retry runs again', async () => {
    const store = newStore();
    let runs = 0;
    const handler = async () => {
      runs++;
      if (runs === 1) throw new Error('payment provider unavailable');
      return `charge-${runs}`;
    };
    const first = await call(store, 'client-1', 'key-1', 'amount=100', handler);
    assert.ok(first.error && first.error.message === 'payment provider unavailable',
      `the first attempt should reject with the handler's error, got ${show(first)}`);
    expectSize(store, 0, 'after a failed attempt nothing is stored');
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-2', 'the retry after a failure runs the handler again');
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-2', 'once a retry succeeded its response is replayed');
    assert.equal(runs, 2, `expected the handler to run twice (failed, then succeeded), ran ${runs} times`);
  });

  it("rejects with the handler's own error, unchanged", async () => {
    const store = newStore();
    const boom = new Error('card declined');
    const got = await call(store, 'client-1', 'key-1', 'amount=100', async () => {
      throw boom;
    });
    assert.ok(got.error === boom, `expected a rejection with exactly the handler's error, got ${show(got)}`);
  });

  it('treats a handler that throws synchronously as a failure: a rejection, nothing stored', async () => {
    const store = newStore();
    const boom = new Error('bad request');
    const got = await call(store, 'client-1', 'key-1', 'amount=100', () => {
      throw boom;
    });
    assert.ok(got.error === boom, `expected a rejection with exactly the handler's error, got ${show(got)}`);
    expectSize(store, 0, 'after a synchronous failure nothing is stored');
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', charges(), 'charge-1', 'the retry runs the handler again');
  });

  it('does not reserve the payload of a failed attempt', async () => {
    const store = newStore();
    const got = await call(store, 'client-1', 'key-1', 'amount=100', async () => {
      throw new Error('timeout');
    });
    assert.ok(got.error, `the first attempt should reject, got ${show(got)}`);
    await expectResponse(store, 'client-1', 'key-1', 'amount=200', charges(), 'charge-1',
      'after a failed attempt the key is free, so a different payload runs (no conflict)');
    await expectConflict(store, 'client-1', 'key-1', 'amount=100', 'now the key is bound to the successful payload');
  });
});

describe('expiry', () => {
  it('replays a stored response until one millisecond before the TTL', async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    const handler = charges();
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-1', 'first request at t=+0');
    clock.advance(TTL - 1);
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-1', `replay at ${clock.describe()} (TTL is 60000ms)`);
    await expectConflict(store, 'client-1', 'key-1', 'amount=999', `different payload at ${clock.describe()}`);
    expectCount(handler, 1, 'replays before the TTL');
  });

  it('expires the key at exactly the TTL, so the handler runs again', async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    const handler = charges();
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-1', 'first request at t=+0');
    clock.advance(TTL);
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-2', `request at ${clock.describe()} after the 60000ms TTL`);
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-2', 'the new response is stored again');
    expectCount(handler, 2, 'one run before and one after expiry');
  });

  it('lets an expired key be reused with a different payload', async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    const handler = charges();
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-1', 'first request');
    clock.advance(TTL + 5_000);
    await expectResponse(store, 'client-1', 'key-1', 'amount=999', handler, 'charge-2', 'different payload after expiry is a new request, not a conflict');
    await expectConflict(store, 'client-1', 'key-1', 'amount=100', 'the old payload now conflicts with the new one');
  });

  it('measures the TTL from when the response was stored, not from when the request arrived', async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    let runs = 0;
    const slow = async () => {
      const n = ++runs;
      await settle();
      clock.advance(10_000); // the handler takes 10 seconds
      return `charge-${n}`;
    };
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', slow, 'charge-1', 'request started at t=+0, stored at t=+10000ms');
    clock.advance(TTL - 10_000); // now START + TTL, but only 50s after the response was stored
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', slow, 'charge-1', `replay at ${clock.describe()}: 50s after the response was stored`);
    clock.advance(10_000 - 1);
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', slow, 'charge-1', `replay at ${clock.describe()}: 1ms before stored time + TTL`);
    clock.advance(1);
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', slow, 'charge-2', `request at ${clock.describe()}: exactly stored time + TTL, so expired`);
  });

  it('expires each key on its own schedule', async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    const handler = charges();
    await expectResponse(store, 'client-1', 'early', 'p', handler, 'charge-1', "key 'early' stored at t=+0");
    clock.advance(30_000);
    await expectResponse(store, 'client-1', 'late', 'p', handler, 'charge-2', "key 'late' stored at t=+30000ms");
    clock.advance(30_000);
    expectSize(store, 1, "at t=+60000ms only 'late' is held");
    await expectResponse(store, 'client-1', 'late', 'p', handler, 'charge-2', "key 'late' at t=+60000ms is still stored");
    await expectResponse(store, 'client-1', 'early', 'p', handler, 'charge-3', "key 'early' at t=+60000ms has expired");
    clock.advance(30_000);
    await expectResponse(store, 'client-1', 'late', 'p', handler, 'charge-4', "key 'late' at t=+90000ms has expired");
    await expectResponse(store, 'client-1', 'early', 'p', handler, 'charge-3', "key 'early' (stored again at t=+60000ms) is still stored at t=+90000ms");
  });

  it('never expires a key that is still in flight', async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    const release = deferred();
    const first = call(store, 'client-1', 'key-1', 'amount=100', async () => {
      await release.promise;
      return 'charge-1';
    });
    await settle();
    clock.advance(2 * TTL);
    expectSize(store, 1, 'a key in flight for twice the TTL is still held');
    const conflicting = call(store, 'client-1', 'key-1', 'amount=999', mustNotRun('the key is in flight'));
    await settle();
    assert.ok(conflicting.settled, 'a conflicting request for a key in flight must be rejected at once, but it was still pending');
    const got = await conflicting;
    assert.ok(got.error instanceof IdempotencyConflictError,
      `a different payload for a key in flight for twice the TTL: expected IdempotencyConflictError, got ${show(got)}`);
    release.resolve();
    assert.deepEqual(await first, { value: 'charge-1' }, "the first request should resolve with 'charge-1'");
    // Stored at t=+120000ms: kept until t=+180000ms.
    clock.advance(TTL - 1);
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', mustNotRun('response stored 59999ms ago'), 'charge-1',
      `replay at ${clock.describe()}, 1ms before the response (stored when the handler finished at t=+120000ms) expires`);
  });
});

describe('size and memory', () => {
  it('counts keys in flight and stored responses in size()', async () => {
    const store = newStore();
    expectSize(store, 0, 'a new store');
    const release = deferred();
    const first = call(store, 'client-1', 'in-flight', 'p', async () => {
      await release.promise;
      return 'ok';
    });
    expectSize(store, 1, 'one key in flight');
    const other = call(store, 'client-1', 'stored', 'p', () => 'ok');
    await settle();
    assert.ok(other.settled, 'a request for another key was still pending while the first key was in flight');
    assert.deepEqual(await other, { value: 'ok' }, "another key while the first is in flight should resolve with 'ok'");
    expectSize(store, 2, 'one key in flight and one stored');
    release.resolve();
    await first;
    expectSize(store, 2, 'two stored keys');
    await call(store, 'client-1', 'failing', 'p', async () => {
      throw new Error('boom');
    });
    expectSize(store, 2, 'a failed request is not held');
  });

  it('drops expired keys from the store, even with no request in between', async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    const handler = charges();
    for (let i = 0; i < 1000; i++) {
      await store.execute('client-1', `key-${i}`, 'p', handler);
    }
    expectSize(store, 1000, '1000 keys stored at t=+0');
    clock.advance(TTL - 1);
    expectSize(store, 1000, 'at t=+59999ms no key has expired');
    clock.advance(1);
    expectSize(store, 0, 'at t=+60000ms every key has expired, even with no request in between');
    await expectResponse(store, 'client-1', 'new', 'p', handler, 'charge-1001', 'a new key after expiry');
    expectSize(store, 1, 'only the new key is held');
  });

  it('keeps memory bounded under a rolling workload', async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    // One new key per second, each kept 60 seconds: at most 60 are ever held.
    for (let i = 0; i < 3000; i++) {
      if (i > 0) clock.advance(1_000);
      await store.execute('client-1', `key-${i}`, 'p', () => 'ok');
      const want = Math.min(i + 1, 60);
      const got = store.size();
      if (got !== want) {
        assert.fail(`after ${i + 1} requests one second apart with a 60s TTL: expected size() === ${want}, got ${got}`);
      }
    }
  });

  it('keeps the memory held by the store flat while keys keep expiring', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    const heapAfterGc = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const windows = 10;
    const perWindow = 2000;
    const clock = new FakeClock();
    const store = newStore(clock);
    const heap = [];
    for (let w = 0; w < windows; w++) {
      for (let i = 0; i < perWindow; i++) {
        const key = `w${w}-key-${i}`;
        await store.execute('client-1', key, 'amount=100', () => `response-for-${key}${'r'.repeat(80)}`);
      }
      expectSize(store, perWindow, `window ${w}: after storing ${perWindow} new keys`);
      clock.advance(TTL); // every key of this window expires
      expectSize(store, 0, `window ${w}: once all its keys expired`);
      heap.push(heapAfterGc());
    }
    expectSize(store, 0, 'after the last window'); // keeps the store alive until the heap was measured
    // The V8 heap wobbles by a few hundred KB from one measurement to the next; a leak only
    // grows. Compare the lowest of the last three readings with the highest of two early ones.
    const grown = Math.min(...heap.slice(-3)) - Math.max(heap[2], heap[3]);
    assert.ok(grown <= 1 << 20,
      `expected the memory held by the store to stay flat while keys keep expiring, but it grew by ${grown >> 10} KB ` +
      `over ${windows - 6} more windows of ${perWindow} expired keys: are expired entries still referenced somewhere (an array, a Map)?`);
  });
});

describe('complexity', () => {
  let big; // shared by both tests: filling it is the slow part
  before(async () => {
    big = await filledStore(10_000);
  });

  async function filledStore(keys) {
    const store = newStore();
    for (let i = 0; i < keys; i++) {
      await store.execute('client-1', `key-${i}`, 'p', () => 'ok');
    }
    return store;
  }

  /**
   * Ratio of the best big-store time to the best small-store time over a few rounds:
   * noise (and the JIT warming up) only ever slows a run down, so the fastest run of each
   * is the closest to its true cost. The big store gets 50x the small store's time, far
   * beyond the 10x allowed; two rounds over that budget end the measurement, so a
   * hopelessly slow store fails fast.
   */
  async function costRatio(work, newSmall) {
    let bestSmall = Infinity;
    let bestBig = Infinity;
    let overBudget = 0;
    for (let round = 0; round < 8; round++) {
      bestSmall = Math.max(1, Math.min(bestSmall, await work(await newSmall(), round, Infinity)));
      const bigTime = await work(() => big, round, 50 * bestSmall);
      bestBig = Math.min(bestBig, bigTime);
      if (bigTime > 50 * bestSmall) overBudget++;
      if (bestBig / bestSmall <= 3 || overBudget === 2) break;
    }
    return { ratio: bestBig / bestSmall, small: bestSmall, big: bestBig };
  }

  const nanos = () => process.hrtime.bigint();

  it('costs about the same per execute() with 10,000 stored keys as with 10', async () => {
    const batches = 40;
    const perBatch = 50;
    const oldKeys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
    const newKeys = Array.from({ length: 8 * batches * perBatch }, (_, i) => `new-${i}`);
    const ok = () => 'ok';
    // Each batch: 50 replays of stored keys and 50 requests with new keys.
    const work = async (target, round, budget) => {
      let total = 0;
      for (let b = 0; b < batches && total <= budget; b++) {
        const store = target(b);
        const base = (round * batches + b) * perBatch;
        const t0 = nanos();
        for (let i = 0; i < perBatch; i++) {
          await store.execute('client-1', oldKeys[i % 10], 'p', ok);
          await store.execute('client-1', newKeys[base + i], 'p', ok);
        }
        total += Number(nanos() - t0);
      }
      return total;
    };
    // A fresh 10-key store for every batch, so a small store never exceeds 60 keys.
    const newSmall = async () => {
      const stores = [];
      for (let b = 0; b < batches; b++) stores.push(await filledStore(10));
      return (batch) => stores[batch];
    };
    const best = await costRatio(work, newSmall);
    await expectResponse(big, 'client-1', 'key-9999', 'p', mustNotRun('key-9999 is stored'), 'ok', 'a replay on the big store');
    assert.ok(big.size() > 10_000, `the big store should hold more than 10,000 keys after the measurements, holds ${big.size()}`);
    assert.ok(best.ratio <= 10,
      `expected execute() to cost about the same with 10,000 stored keys as with 10 (at most 10x), but it was ` +
      `${best.ratio.toFixed(1)}x slower (${(best.big / 1e6).toFixed(2)}ms vs ${(best.small / 1e6).toFixed(2)}ms ` +
      `for ${2 * batches * perBatch} calls): is every call scanning all keys?`);
  });

  it('costs about the same per size() with 10,000 stored keys as with 10', async () => {
    const calls = 5000;
    const small = await filledStore(10);
    let sink = 0;
    const work = async (target, _round, budget) => {
      const store = target(0);
      let total = 0;
      for (let b = 0; b < calls / 500 && total <= budget; b++) {
        const t0 = nanos();
        for (let i = 0; i < 500; i++) sink += store.size();
        total += Number(nanos() - t0);
      }
      return total;
    };
    const best = await costRatio(work, async () => () => small);
    assert.ok(sink > 0, 'size() returned 0 for non-empty stores');
    assert.ok(best.ratio <= 10,
      `expected size() to cost about the same with 10,000 stored keys as with 10 (at most 10x), but it was ` +
      `${best.ratio.toFixed(1)}x slower (${(best.big / 1e6).toFixed(2)}ms vs ${(best.small / 1e6).toFixed(2)}ms ` +
      `for ${calls} calls): is it counting keys one by one?`);
  });
});

describe('interleaved async calls', () => {
  it('runs the handler exactly once for duplicates interleaved while it is in flight, and all get the same response', async () => {
    const store = newStore();
    const release = deferred();
    let runs = 0;
    const handler = async () => {
      const n = ++runs;
      await release.promise;
      return `charge-${n}`;
    };
    const calls = [];
    // Duplicates arrive at once, after microtasks and after macrotask turns.
    for (let i = 0; i < 20; i++) calls.push(call(store, 'client-1', 'order-1', 'amount=100', handler));
    for (let i = 0; i < 10; i++) {
      await Promise.resolve();
      calls.push(call(store, 'client-1', 'order-1', 'amount=100', handler));
    }
    for (let i = 0; i < 20; i++) {
      await settle();
      calls.push(call(store, 'client-1', 'order-1', 'amount=100', handler));
    }
    assert.equal(calls.filter((c) => c.settled).length, 0,
      'duplicates of a request in flight must wait for it, but some settled before the handler finished');
    release.resolve();
    const outcomes = await Promise.all(calls);
    assert.equal(runs, 1, `expected the handler to run exactly once for ${calls.length} interleaved duplicates, but it ran ${runs} times`);
    outcomes.forEach((got, i) => {
      assert.ok(got.value === 'charge-1', `caller ${i}: expected response 'charge-1', got ${show(got)}`);
    });
    expectSize(store, 1, 'one stored key');
  });

  it('runs each key\'s handler exactly once when requests for many keys interleave', async () => {
    const keys = 16;
    const perKey = 4;
    const store = newStore();
    const runs = new Array(keys).fill(0);
    const gates = Array.from({ length: keys }, () => deferred());
    const calls = [];
    for (let i = 0; i < keys * perKey; i++) {
      const k = i % keys;
      const clientId = `client-${k % 4}`;
      const key = `key-${k}`;
      calls.push(call(store, clientId, key, `amount=${k}`, async () => {
        const n = ++runs[k];
        await gates[k].promise;
        return `${clientId}/${key}-run-${n}`;
      }));
      if (i % 5 === 0) await settle();
    }
    // Finish the keys in reverse order.
    for (let k = keys - 1; k >= 0; k--) {
      gates[k].resolve();
      await settle();
    }
    const outcomes = await Promise.all(calls);
    runs.forEach((n, k) => assert.equal(n, 1, `key-${k}: expected its handler to run exactly once for ${perKey} duplicates, ran ${n} times`));
    outcomes.forEach((got, i) => {
      const k = i % keys;
      const want = `client-${k % 4}/key-${k}-run-1`;
      assert.ok(got.value === want, `caller ${i} (key-${k}): expected ${JSON.stringify(want)}, got ${show(got)}`);
    });
    expectSize(store, keys, '16 keys stored');
  });

  it('rejects a duplicate with a different payload while in flight at once, instead of waiting', async () => {
    const store = newStore();
    const release = deferred();
    const first = call(store, 'client-1', 'key-1', 'amount=100', async () => {
      await release.promise;
      return 'charge-1';
    });
    await settle();
    const conflicting = call(store, 'client-1', 'key-1', 'amount=999', mustNotRun('the key is in flight with another payload'));
    await settle();
    assert.ok(conflicting.settled, 'a different payload for a key in flight must be rejected at once, but it was still pending');
    const got = await conflicting;
    assert.ok(got.error instanceof IdempotencyConflictError,
      `a different payload for a key in flight: expected IdempotencyConflictError, got ${show(got)}`);
    assert.equal(first.settled, false, 'the first request must still be in flight');
    release.resolve();
    assert.deepEqual(await first, { value: 'charge-1' }, "the first request should resolve with 'charge-1'");
  });

  it('does not let a slow handler for one key block other keys', async () => {
    const store = newStore();
    const fastRan = deferred();
    let timer;
    const watchdog = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), WATCHDOG_MS);
    });
    const slow = call(store, 'client-1', 'slow', 'p', async () => {
      const outcome = await Promise.race([fastRan.promise.then(() => 'ran'), watchdog]);
      return outcome === 'ran' ? 'slow-done' : "the handler for key 'fast' never ran while 'slow' was in flight";
    });
    await settle();
    const fast = call(store, 'client-1', 'fast', 'p', () => {
      fastRan.resolve();
      return 'fast-done';
    });
    const got = await slow;
    clearTimeout(timer);
    assert.deepEqual(got, { value: 'slow-done' },
      "expected the handler of key 'fast' to run while the handler of key 'slow' was in flight, but it was blocked: " +
      'do not make requests for different keys wait for each other');
    assert.deepEqual(await fast, { value: 'fast-done' }, "key 'fast' should resolve with 'fast-done'");
  });

  it('rejects every waiting duplicate with the error when the handler in flight fails, and runs again on the next retry', async () => {
    const store = newStore();
    const release = deferred();
    const boom = new Error('upstream timeout');
    let runs = 0;
    const failing = async () => {
      runs++;
      await release.promise;
      throw boom;
    };
    const calls = [];
    for (let i = 0; i < 5; i++) {
      calls.push(call(store, 'client-1', 'key-1', 'amount=100', failing));
      await settle();
    }
    release.resolve();
    const outcomes = await Promise.all(calls);
    assert.equal(runs, 1, `expected the failing handler to run once for the request and its 4 waiting duplicates, ran ${runs} times`);
    outcomes.forEach((got, i) => {
      assert.ok(got.error === boom, `caller ${i}: expected a rejection with the handler's error, got ${show(got)}`);
    });
    expectSize(store, 0, 'after the failure nothing is held');
    const handler = charges();
    await expectResponse(store, 'client-1', 'key-1', 'amount=100', handler, 'charge-1', 'the retry after the failure runs the handler again');
    expectCount(handler, 1, 'the retry after the failure');
  });
});
