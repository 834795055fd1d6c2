'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const v8 = require('node:v8');
const vm = require('node:vm');
const { RateLimiter } = require('./rateLimiter.js');

/** A clock the tests move by hand. */
class FakeClock {
  constructor(now = 0) {
    this.now = now;
  }

  nowMillis() {
    return this.now;
  }
}

const verdict = (admitted) => (admitted ? 'admitted (true)' : 'rejected (false)');
const repeat = (n, v) => Array.from({ length: n }, () => v);
const thenReject = (admitted) => [...repeat(admitted, true), false];

/** Default limits of most tests: 5 requests per 1000 ms. */
function setup(limit = 5, window = 1000) {
  const clock = new FakeClock();
  const limiter = new RateLimiter(clock, limit, window);

  /** At time `at`, awaits allow(client) once per expected verdict. */
  async function expect(at, client, ...want) {
    clock.now = at;
    for (let i = 0; i < want.length; i++) {
      const got = await limiter.allow(client);
      if (got !== want[i]) {
        assert.fail(`allow(${JSON.stringify(client)}) call #${i + 1} at t=${at} ms: expected ${verdict(want[i])}, got ${got}`);
      }
    }
  }

  function expectTracked(at, want) {
    clock.now = at;
    const got = limiter.trackedClients();
    if (got !== want) assert.fail(`trackedClients() at t=${at} ms: expected ${want}, got ${got}`);
  }

  function setLimit(at, client, limit, window) {
    clock.now = at;
    limiter.setClientLimit(client, limit, window);
  }

  return { clock, limiter, expect, expectTracked, setLimit };
}

describe('sliding window', () => {
  test('admits requests up to the limit, then rejects', async () => {
    const { expect } = setup();
    for (let t = 0; t < 5; t++) await expect(t, 'a', true);
    await expect(5, 'a', false);
    await expect(999, 'a', false);
  });

  test('several requests in the same millisecond each count', async () => {
    const { expect } = setup();
    await expect(100, 'a', ...thenReject(5));
    await expect(1099, 'a', false);
    await expect(1100, 'a', ...thenReject(5));
  });

  test('a request exactly one window later is admitted', async () => {
    const { expect } = setup(1, 1000);
    await expect(0, 'a', true);
    await expect(1000, 'a', true);
    await expect(2000, 'a', true);
  });

  test('a request one millisecond before the window ends is rejected', async () => {
    const { expect } = setup(1, 1000);
    await expect(0, 'a', true);
    await expect(999, 'a', false);
    await expect(1000, 'a', true);
    await expect(1999, 'a', false);
  });

  test('the window slides instead of resetting at fixed boundaries', async () => {
    const { expect } = setup();
    await expect(900, 'a', ...repeat(5, true));
    await expect(1000, 'a', false);
    await expect(1500, 'a', false);
    await expect(1899, 'a', false);
    await expect(1900, 'a', ...thenReject(5));
  });

  test('old requests leave the window one at a time', async () => {
    const { expect } = setup(3, 1000);
    await expect(0, 'a', true);
    await expect(400, 'a', true);
    await expect(800, 'a', true);
    await expect(999, 'a', false);
    await expect(1000, 'a', true);
    await expect(1001, 'a', false);
    await expect(1399, 'a', false);
    await expect(1400, 'a', true);
    await expect(1799, 'a', false);
    await expect(1800, 'a', true, false);
  });

  test('rejected requests do not count against the limit', async () => {
    const { expect } = setup(2, 1000);
    await expect(0, 'a', true, true);
    await expect(500, 'a', false, false, false);
    await expect(1000, 'a', true, true, false);
    await expect(1999, 'a', false);
    await expect(2000, 'a', true);
  });
});

describe('per-client limits', () => {
  test('clients are limited independently', async () => {
    const { expect } = setup();
    await expect(0, 'a', ...thenReject(5));
    await expect(0, 'b', ...thenReject(5));
    await expect(10, 'a', false);
    await expect(10, 'c', true);
  });

  test('an override changes the limit for that client only', async () => {
    const { expect, setLimit } = setup();
    setLimit(0, 'premium', 10, 1000);
    await expect(0, 'premium', ...thenReject(10));
    await expect(0, 'basic', ...thenReject(5));
    await expect(1000, 'premium', ...thenReject(10));
  });

  test('an override can use a longer window', async () => {
    const { expect, setLimit } = setup();
    setLimit(0, 'batch', 2, 60_000);
    await expect(0, 'batch', true, true, false);
    await expect(0, 'web', ...thenReject(5));
    await expect(1000, 'web', ...thenReject(5));
    await expect(1000, 'batch', false);
    await expect(59_999, 'batch', false);
    await expect(60_000, 'batch', true, true, false);
  });

  test('changing an override starts the client in a fresh window', async () => {
    const { expect, setLimit } = setup();
    await expect(0, 'x', ...thenReject(5));
    await expect(0, 'y', ...thenReject(5));
    setLimit(10, 'x', 3, 1000);
    await expect(10, 'x', true, true, true, false);
    await expect(10, 'y', false); // other clients keep their history
    setLimit(20, 'x', 3, 1000);
    await expect(20, 'x', true, true, true, false);
    await expect(1019, 'x', false);
    await expect(1020, 'x', true, true, true, false);
  });

  test('an override still applies after the client was idle', async () => {
    const { expect, expectTracked, setLimit } = setup();
    setLimit(0, 'vip', 2, 1000);
    await expect(0, 'vip', true, true, false);
    expectTracked(5000, 0);
    await expect(5000, 'vip', true, true, false);
  });

  test('invalid limits and windows are rejected with a RangeError', async () => {
    const { clock, limiter, expect } = setup();
    for (const [limit, window] of [[0, 1000], [-1, 1000], [5, 0], [5, -1000]]) {
      assert.throws(() => new RateLimiter(clock, limit, window), RangeError,
        `new RateLimiter(clock, ${limit}, ${window}) should throw a RangeError`);
    }
    for (const [limit, window] of [[0, 1000], [3, 0]]) {
      assert.throws(() => limiter.setClientLimit('a', limit, window), RangeError,
        `setClientLimit('a', ${limit}, ${window}) should throw a RangeError`);
    }
    // the rejected overrides changed nothing: "a" still has the default 5 per 1000 ms
    await expect(0, 'a', ...thenReject(5));
  });
});

describe('releasing idle clients', () => {
  test('no clients are tracked before any request', () => {
    const { expectTracked, setLimit } = setup();
    expectTracked(0, 0);
    setLimit(0, 'a', 3, 1000);
    expectTracked(0, 0);
  });

  test('each client with requests in its window is counted once', async () => {
    const { expect, expectTracked } = setup();
    await expect(0, 'a', true, true, true);
    await expect(0, 'b', true);
    await expect(0, 'c', true, true, true, true, true, false, false);
    expectTracked(0, 3);
  });

  test('a client is released exactly when its window becomes empty', async () => {
    const { expect, expectTracked } = setup();
    await expect(0, 'a', true);
    await expect(500, 'b', true);
    expectTracked(999, 2);
    expectTracked(1000, 1);
    expectTracked(1499, 1);
    expectTracked(1500, 0);
  });

  test('a rejected request does not keep a client tracked', async () => {
    const { expect, expectTracked } = setup();
    await expect(0, 'c', ...repeat(5, true));
    await expect(600, 'c', false, false);
    expectTracked(999, 1);
    expectTracked(1000, 0);
  });

  test('clients with different windows are released independently', async () => {
    const { expect, expectTracked, setLimit } = setup();
    setLimit(0, 'long', 1, 10_000);
    await expect(0, 'long', true);
    await expect(100, 'short', true);
    expectTracked(1099, 2);
    expectTracked(1100, 1);
    await expect(2000, 'short', true);
    expectTracked(2999, 2);
    expectTracked(3000, 1);
    expectTracked(9999, 1);
    expectTracked(10_000, 0);
  });

  test('a returning client gets its full limit again', async () => {
    const { expect, expectTracked } = setup();
    await expect(0, 'a', ...thenReject(5));
    expectTracked(1000, 0);
    await expect(5000, 'a', ...thenReject(5));
    expectTracked(5000, 1);
  });

  test("changing an override releases the client's history", async () => {
    const { expect, expectTracked, setLimit } = setup();
    await expect(0, 'a', true);
    expectTracked(0, 1);
    setLimit(0, 'a', 2, 1000);
    expectTracked(0, 0);
  });

  test('ten thousand idle clients are all released', async () => {
    const { clock, limiter, expect, expectTracked } = setup();
    for (let i = 0; i < 10_000; i++) {
      clock.now = Math.floor(i / 10); // ten clients per millisecond, t = 0 .. 999
      if (!(await limiter.allow(`client-${i}`))) assert.fail(`allow("client-${i}") at t=${clock.now} ms: expected admitted (true), got false`);
    }
    expectTracked(999, 10_000);
    expectTracked(1000, 9990);
    expectTracked(1500, 4990);
    expectTracked(1998, 10);
    expectTracked(1999, 0);
    await expect(2000, 'client-0', true);
    expectTracked(2000, 1);
  });
});

describe('interleaved async calls (Node\'s "thread safety")', () => {
  test('calls started together for one client are judged in call order', async () => {
    const { limiter } = setup();
    const results = await Promise.all(repeat(8, null).map(() => limiter.allow('a')));
    assert.deepEqual(results, [...repeat(5, true), ...repeat(3, false)],
      `8 un-awaited calls with limit 5: expected the first 5 admitted and the last 3 rejected, got [${results}]`);
  });

  test('a burst of 1000 un-awaited calls never exceeds the limit', async () => {
    const { limiter } = setup(300, 1000);
    const results = await Promise.all(repeat(1000, null).map(() => limiter.allow('hot')));
    const admitted = results.filter(Boolean).length;
    assert.equal(admitted, 300, `1000 un-awaited calls with limit 300: expected exactly 300 admitted, got ${admitted}`);
    assert.equal(await limiter.allow('hot'), false, 'expected the limit to be used up after the burst');
  });

  test('overlapping first requests from many new clients lose no updates', async () => {
    const { limiter } = setup(1, 1000);
    const clients = 1000;
    const calls = [];
    for (let round = 0; round < 8; round++) { // 8 interleaved "callers", each sending one request per client
      for (let i = 0; i < clients; i++) calls.push(limiter.allow(`client-${i}`).then((ok) => (ok ? i : -1)));
    }
    const admitted = new Array(clients).fill(0);
    for (const i of await Promise.all(calls)) if (i >= 0) admitted[i]++;
    const wrong = admitted.map((n, i) => [i, n]).filter(([, n]) => n !== 1);
    assert.equal(wrong.length, 0,
      `8 overlapping requests for each of ${clients} clients (limit 1): expected every client admitted exactly once, but ${wrong.length} were not (e.g. client-${wrong[0]?.[0]} admitted ${wrong[0]?.[1]} times)`);
    assert.equal(limiter.trackedClients(), clients, `expected ${clients} tracked clients, got ${limiter.trackedClients()}`);
  });

  test('each call is judged at the clock time when allow was called', async () => {
    const { clock, limiter } = setup(1, 1000);
    clock.now = 0;
    const first = limiter.allow('a');
    clock.now = 1000;
    const second = limiter.allow('a');
    clock.now = 1500;
    const third = limiter.allow('a');
    const results = await Promise.all([first, second, third]);
    assert.deepEqual(results, [true, true, false],
      `calls at t=0, 1000 and 1500 (limit 1 per 1000 ms), not awaited in between: expected [true,true,false], got [${results}]`);
  });
});

describe('complexity (cost per call at size 10,000 vs size 10, measured in the same test)', () => {
  const SMALL = 10;
  const LARGE = 10_000;
  const MAX_RATIO = 10;
  const CALLS = 500;

  async function costPerCall(run) {
    const start = process.hrtime.bigint();
    await run(CALLS);
    return Number(process.hrtime.bigint() - start) / CALLS;
  }

  async function assertCostDoesNotGrow(what, makeRun) {
    const small = await makeRun(SMALL);
    const large = await makeRun(LARGE);
    for (let i = 0; i < 4; i++) await small(CALLS); // let the JIT compile both paths first
    for (let i = 0; i < 3; i++) await large(CALLS);
    let smallCost = Infinity;
    for (let i = 0; i < 7; i++) smallCost = Math.min(smallCost, await costPerCall(small));
    let largeCost = Infinity;
    for (let i = 0; i < 7 && largeCost > MAX_RATIO * smallCost; i++) {
      largeCost = Math.min(largeCost, await costPerCall(large));
    }
    assert.ok(largeCost <= MAX_RATIO * smallCost,
      `${what}: expected the cost per call at size ${LARGE} to be at most ${MAX_RATIO}x the cost at size ${SMALL}, but it was ` +
      `${(largeCost / smallCost).toFixed(0)}x (${largeCost.toFixed(0)} ns vs ${smallCost.toFixed(0)} ns) - is something scanned on every call?`);
  }

  test('allow() cost does not grow with the number of clients', async () => {
    await assertCostDoesNotGrow('allow() with many active clients', async (n) => {
      const clock = new FakeClock();
      const limiter = new RateLimiter(clock, 1_000_000, 1_000_000_000);
      const ids = Array.from({ length: n }, (_, i) => `client-${i}`);
      for (const id of ids) await limiter.allow(id);
      let next = 0;
      return async (calls) => {
        for (let i = 0; i < calls; i++) {
          clock.now += 1;
          await limiter.allow(ids[next++ % n]);
        }
      };
    });
  });

  test('allow() cost does not grow with the requests in the window', async () => {
    await assertCostDoesNotGrow("allow() with many requests in the client's window", async (n) => {
      const clock = new FakeClock();
      const limiter = new RateLimiter(clock, n, n); // one request per ms keeps exactly n requests in the window
      for (let t = 0; t < n; t++) {
        clock.now = t;
        await limiter.allow('hot');
      }
      return async (calls) => {
        for (let i = 0; i < calls; i++) {
          clock.now += 1;
          if (!(await limiter.allow('hot'))) {
            assert.fail(`expected a request at t=${clock.now} to be admitted: the one at t=${clock.now - n} just left the window (limit ${n} per ${n} ms)`);
          }
        }
      };
    });
  });

  test('trackedClients() cost does not grow with the number of clients', async () => {
    await assertCostDoesNotGrow('trackedClients() with many active clients', async (n) => {
      const clock = new FakeClock();
      const limiter = new RateLimiter(clock, 5, 1_000_000_000);
      for (let i = 0; i < n; i++) await limiter.allow(`client-${i}`);
      return async (calls) => {
        for (let i = 0; i < calls; i++) {
          clock.now += 1;
          limiter.trackedClients();
        }
      };
    });
  });
});

describe('memory', () => {
  test('memory stays flat while clients come and go', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc'); // a fresh context picks up the flag
    const heapUsed = async () => { // collect garbage, then wait until (concurrent) sweeping has settled
      let last = Infinity;
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 5));
        const used = process.memoryUsage().heapUsed;
        if (Math.abs(used - last) < 256 * 1024) return Math.min(used, last);
        last = used;
      }
      return last;
    };
    const clients = 3000;
    const clock = new FakeClock();
    const limiter = new RateLimiter(clock, 5, 1000);
    const serveRound = async (r) => {
      clock.now = r * 10_000; // every earlier round is idle by now
      for (let i = 0; i < clients; i++) await limiter.allow(`round-${r}-client-${i}`);
    };
    const base = await heapUsed();
    await serveRound(1);
    const oneRound = (await heapUsed()) - base;
    for (let r = 2; r <= 5; r++) await serveRound(r);
    const fiveRounds = (await heapUsed()) - base;
    assert.ok(fiveRounds <= oneRound * 1.5,
      `after 5 rounds of ${clients} clients that each go idle, expected the heap to stay near one round's (${oneRound} bytes), ` +
      `but it grew to ${fiveRounds} bytes - idle clients are not released`);
    assert.equal(limiter.trackedClients(), clients, `expected only the last round's ${clients} clients tracked, got ${limiter.trackedClients()}`);
  });
});
