'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { CircuitBreaker, CircuitOpenError, State } = require('./circuitBreaker.js');

// ------------------------------------------------------------------ support

const BASE = 1_700_000_000_000;

/** A clock the tests move by hand: set(t) puts it t ms after an arbitrary base. */
class FakeClock {
  constructor() {
    this.ms = BASE;
  }

  now() {
    return this.ms;
  }

  set(t) {
    this.ms = BASE + t;
  }
}

class Boom extends Error {
  constructor(message = 'dependency failed') {
    super(message);
    this.name = 'Boom';
  }
}

const STANDARD = { failureThreshold: 3, windowMs: 1000, cooldownMs: 5000, halfOpenMaxCalls: 2, successThreshold: 2 };

function options(failureThreshold, windowMs, cooldownMs, halfOpenMaxCalls, successThreshold) {
  return { failureThreshold, windowMs, cooldownMs, halfOpenMaxCalls, successThreshold };
}

/** Lets every pending promise callback and I/O-phase callback run. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

function setup(opts = STANDARD) {
  const clock = new FakeClock();
  const b = new CircuitBreaker(clock, opts);
  return { clock, b };
}

async function failAt(clock, b, t) {
  clock.set(t);
  let runs = 0;
  const error = new Boom();
  await assert.rejects(
    b.call(() => {
      runs++;
      throw error;
    }),
    (e) => e === error,
    `at t=${t}: expected the call to be admitted and reject with fn's own error`,
  );
  assert.equal(runs, 1, `at t=${t}: expected fn to run once`);
}

async function succeedAt(clock, b, t) {
  clock.set(t);
  let result;
  try {
    result = await b.call(async () => 'ok');
  } catch (e) {
    assert.fail(`at t=${t}: expected the call to be admitted, but it rejected with ${e} (state ${b.state})`);
  }
  assert.equal(result, 'ok', `at t=${t}: expected call() to resolve with fn's result`);
}

async function expectRejectedAt(clock, b, t) {
  clock.set(t);
  let runs = 0;
  await assert.rejects(
    b.call(() => {
      runs++;
    }),
    CircuitOpenError,
    `at t=${t}: expected the call to be rejected with CircuitOpenError`,
  );
  assert.equal(runs, 0, `at t=${t}: expected fn not to run for a rejected call`);
}

function expectState(b, want, when) {
  const got = b.state;
  assert.equal(got, want, `${when}: expected state ${want}, got ${got}`);
}

function expectStats(b, want) {
  const expected = { successes: 0, failures: 0, rejections: 0, timesOpened: 0, ...want };
  const got = b.stats();
  assert.deepEqual(got, expected, `expected stats ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
}

/**
 * Starts a call whose fn does not settle until finish(). After one tick,
 * call.entered tells whether fn ran (the call was admitted).
 */
async function begin(b) {
  let release;
  const gate = new Promise((resolve) => {
    release = resolve;
  });
  const call = { entered: false, settled: false, result: undefined, error: undefined };
  call.promise = b
    .call(() => {
      call.entered = true;
      return gate.then((outcome) => {
        if (outcome instanceof Error) throw outcome;
        return outcome;
      });
    })
    .then(
      (value) => {
        call.settled = true;
        call.result = value;
      },
      (error) => {
        call.settled = true;
        call.error = error;
      },
    );
  call.finish = async (outcome = 'ok') => {
    release(outcome);
    await call.promise;
    return call;
  };
  await tick();
  return call;
}

async function beginAdmitted(b, what) {
  const call = await begin(b);
  assert.ok(call.entered, `${what}: expected the call to be admitted (fn to run), but it settled with ${call.error} without running fn`);
  return call;
}

async function expectBeginRejected(b, why) {
  const call = await begin(b);
  if (call.entered) {
    await call.finish();
    assert.fail(`${why}; but fn ran`);
  }
  assert.ok(call.error instanceof CircuitOpenError, `${why}: expected CircuitOpenError, got ${call.error}`);
}

/** A deterministic shuffle (so that failures are reproducible). */
function shuffled(items, seed = 12345) {
  const a = items.slice();
  let s = seed;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// -------------------------------------------------------------------- tests

describe('basics', () => {
  test('a new breaker is closed with all counters at zero', () => {
    const { b } = setup();
    expectState(b, State.CLOSED, 'new breaker');
    expectStats(b, {});
  });

  test('the states are named closed, open and half-open', () => {
    assert.deepEqual([State.CLOSED, State.OPEN, State.HALF_OPEN], ['closed', 'open', 'half-open']);
  });

  test("a successful call resolves with fn's result and counts a success", async () => {
    const { b } = setup();
    let runs = 0;
    const result = await b.call(() => {
      runs++;
      return 42;
    });
    assert.equal(result, 42, "expected call() to resolve with fn's (plain, non-promise) result");
    assert.equal(runs, 1, 'expected fn to run once');
    assert.equal(await b.call(async () => 'async'), 'async', "expected call() to resolve with an async fn's result");
    expectStats(b, { successes: 2 });
  });

  test("a failing call rejects with fn's own error and counts a failure", async () => {
    const { b } = setup();
    const thrown = new Boom('thrown synchronously');
    const rejected = new Boom('returned as a rejected promise');
    await assert.rejects(b.call(() => { throw thrown; }), (e) => e === thrown, "expected call() to reject with the very error fn threw");
    await assert.rejects(b.call(() => Promise.reject(rejected)), (e) => e === rejected, "expected call() to reject with the very error fn's promise rejected with");
    expectStats(b, { failures: 2 });
    expectState(b, State.CLOSED, 'after two failures with threshold 3');
  });

  test('a rejected call returns a rejected promise instead of throwing', async () => {
    const { clock, b } = setup(options(1, 1000, 1000, 1, 1));
    await failAt(clock, b, 0);
    let promise;
    assert.doesNotThrow(() => {
      promise = b.call(() => 'ok');
    }, 'expected call() never to throw synchronously');
    assert.ok(promise instanceof Promise, 'expected call() to return a promise');
    await assert.rejects(promise, CircuitOpenError);
    assert.ok(new CircuitOpenError() instanceof Error, 'expected CircuitOpenError to be an Error');
    assert.equal(new CircuitOpenError().name, 'CircuitOpenError');
  });

  test('an invalid configuration is rejected', () => {
    const clock = new FakeClock();
    for (const key of Object.keys(STANDARD)) {
      for (const bad of [0, -1, 1.5, '3', undefined]) {
        assert.throws(() => new CircuitBreaker(clock, { ...STANDARD, [key]: bad }), RangeError,
          `expected RangeError for ${key}=${JSON.stringify(bad)}`);
      }
    }
    assert.throws(() => new CircuitBreaker(undefined, STANDARD), TypeError, 'expected TypeError for a missing clock');
    assert.doesNotThrow(() => new CircuitBreaker(clock, options(1, 1, 1, 1, 1)), 'all 1: valid');
  });

  test('two breakers do not share state', async () => {
    const clock = new FakeClock();
    const first = new CircuitBreaker(clock, STANDARD);
    const second = new CircuitBreaker(clock, STANDARD);
    await failAt(clock, first, 0);
    await failAt(clock, first, 1);
    await failAt(clock, second, 2);
    await failAt(clock, first, 3);
    expectState(first, State.OPEN, 'first breaker after 3 failures');
    expectState(second, State.CLOSED, "second breaker after 1 failure (the first breaker's failures are not its own)");
    await succeedAt(clock, second, 4);
    expectStats(second, { successes: 1, failures: 1 });
  });
});

describe('rolling failure window', () => {
  test('the breaker trips when failures in the window reach the threshold', async () => {
    const { clock, b } = setup();
    await failAt(clock, b, 0);
    await failAt(clock, b, 10);
    expectState(b, State.CLOSED, 'after 2 of 3 failures');
    await failAt(clock, b, 20);
    expectState(b, State.OPEN, 'after 3 failures within 1000 ms (threshold 3)');
    expectStats(b, { failures: 3, timesOpened: 1 });
  });

  test('a failure exactly one window old no longer counts', async () => {
    const { clock, b } = setup();
    for (const t of [0, 500, 1000]) await failAt(clock, b, t); // window at 1000 is (0, 1000]
    expectState(b, State.CLOSED, 'failures at 0, 500, 1000 with a 1000 ms window (only 2 inside (0, 1000])');
  });

  test('a failure one millisecond inside the window still counts', async () => {
    const { clock, b } = setup();
    for (const t of [0, 500, 999]) await failAt(clock, b, t); // window at 999 is (-1, 999]
    expectState(b, State.OPEN, 'failures at 0, 500, 999 with a 1000 ms window (all 3 inside (-1, 999])');
  });

  test('failures spread out over time never trip the breaker', async () => {
    const { clock, b } = setup();
    for (let i = 0; i < 30; i++) await failAt(clock, b, i * 600); // at most 2 in any 1000 ms window
    expectState(b, State.CLOSED, '30 failures 600 ms apart (never 3 within 1000 ms)');
    expectStats(b, { failures: 30 });
  });

  test('the window slides continuously rather than resetting in blocks', async () => {
    const { clock, b } = setup();
    for (const t of [0, 900, 1000]) await failAt(clock, b, t);
    expectState(b, State.CLOSED, 'failures at 0, 900, 1000 (2 inside (0, 1000])');
    await failAt(clock, b, 1100);
    expectState(b, State.OPEN, 'failures at 900, 1000, 1100 are all inside (100, 1100]');
  });

  test('successes do not erase earlier failures', async () => {
    const { clock, b } = setup();
    await failAt(clock, b, 0);
    await succeedAt(clock, b, 100);
    await failAt(clock, b, 200);
    await succeedAt(clock, b, 300);
    await succeedAt(clock, b, 400);
    await failAt(clock, b, 500);
    expectState(b, State.OPEN, '3 failures within 1000 ms with successes in between (rolling window, not consecutive failures)');
    expectStats(b, { successes: 3, failures: 3, timesOpened: 1 });
  });

  test('a failure is timed when the call finishes, not when it starts', async () => {
    const { clock, b } = setup(options(2, 1000, 5000, 1, 1));
    await failAt(clock, b, 0);
    clock.set(500);
    const slow = await begin(b);
    assert.ok(slow.entered, 'expected the slow call to be admitted');
    clock.set(1000); // the call takes 500 ms and fails at t=1000
    await slow.finish(new Boom('slow failure'));
    assert.ok(slow.error instanceof Boom, `expected fn's error, got ${slow.error}`);
    expectState(b, State.CLOSED, 'failure finished at 1000: window (0, 1000] holds only 1 failure');
    await failAt(clock, b, 1999);
    expectState(b, State.OPEN, 'failures at 1000 and 1999 are inside (999, 1999]');
  });
});

describe('open state and cooldown', () => {
  test('an open breaker rejects calls without running fn', async () => {
    const { clock, b } = setup();
    for (const t of [0, 1, 2]) await failAt(clock, b, t);
    for (let i = 0; i < 5; i++) await expectRejectedAt(clock, b, 10 + i);
    expectStats(b, { failures: 3, rejections: 5, timesOpened: 1 });
    expectState(b, State.OPEN, 'after rejected calls');
  });

  test('the breaker stays open until one millisecond before the cooldown ends', async () => {
    const { clock, b } = setup();
    for (const t of [0, 50, 100]) await failAt(clock, b, t); // opens at 100 -> half-open at 5100
    await expectRejectedAt(clock, b, 5099);
    expectState(b, State.OPEN, 'at t=5099, opened at 100 with a 5000 ms cooldown');
  });

  test('the breaker admits a trial exactly when the cooldown ends', async () => {
    const { clock, b } = setup();
    for (const t of [0, 50, 100]) await failAt(clock, b, t);
    await succeedAt(clock, b, 5100);
    expectState(b, State.HALF_OPEN, 'after 1 of 2 required trial successes');
  });

  test('state reports half-open once the cooldown ends, even without calls', async () => {
    const { clock, b } = setup();
    for (const t of [0, 50, 100]) await failAt(clock, b, t);
    clock.set(5099);
    expectState(b, State.OPEN, 'at t=5099');
    clock.set(5100);
    expectState(b, State.HALF_OPEN, 'at t=5100 (opened at 100, cooldown 5000), no call made');
    expectStats(b, { failures: 3, timesOpened: 1 });
  });

  test('rejected calls do not extend the cooldown', async () => {
    const { clock, b } = setup();
    for (const t of [0, 0, 0]) await failAt(clock, b, t); // opens at 0
    for (const t of [1000, 2000, 3000, 4000, 4999]) await expectRejectedAt(clock, b, t);
    await succeedAt(clock, b, 5000);
    expectState(b, State.HALF_OPEN, 'at t=5000 after rejected calls during the cooldown');
  });
});

describe('half-open trials', () => {
  test('half-open closes after the required number of successful trials', async () => {
    const { clock, b } = setup(options(1, 1000, 1000, 2, 3));
    await failAt(clock, b, 0); // opens at 0, half-open at 1000
    await succeedAt(clock, b, 1000);
    expectState(b, State.HALF_OPEN, 'after 1 of 3 trial successes');
    await succeedAt(clock, b, 1001);
    expectState(b, State.HALF_OPEN, 'after 2 of 3 trial successes');
    await succeedAt(clock, b, 1002);
    expectState(b, State.CLOSED, 'after 3 of 3 trial successes');
    expectStats(b, { successes: 3, failures: 1, timesOpened: 1 });
  });

  test('a failed trial re-opens the breaker and restarts the cooldown', async () => {
    const { clock, b } = setup();
    for (const t of [0, 50, 100]) await failAt(clock, b, t); // opens at 100, half-open at 5100
    await succeedAt(clock, b, 5100);
    await failAt(clock, b, 5200); // re-opens at 5200, half-open at 10200
    expectState(b, State.OPEN, 'right after a failed trial');
    await expectRejectedAt(clock, b, 10199);
    clock.set(10200);
    expectState(b, State.HALF_OPEN, 'at t=10200 (re-opened at 5200, cooldown 5000)');
    expectStats(b, { successes: 1, failures: 4, rejections: 1, timesOpened: 2 });
  });

  test('half-open limits trials in flight, not the total number of trials', async () => {
    const { clock, b } = setup(options(1, 1000, 1000, 1, 3));
    await failAt(clock, b, 0);
    for (let i = 0; i < 3; i++) await succeedAt(clock, b, 1000); // one at a time, three in a row
    expectState(b, State.CLOSED, 'after 3 sequential successful trials with halfOpenMaxCalls 1');
  });

  test('half-open rejects trials beyond the limit while others are in flight', async () => {
    const { clock, b } = setup(options(1, 1000, 1000, 2, 2));
    await failAt(clock, b, 0);
    clock.set(1000);
    const a = await beginAdmitted(b, 'first trial');
    const c = await beginAdmitted(b, 'second trial');
    await expectBeginRejected(b, 'expected the third concurrent trial to be rejected (limit 2)');
    await a.finish();
    expectState(b, State.HALF_OPEN, 'after 1 of 2 trial successes');
    await c.finish();
    expectState(b, State.CLOSED, 'after 2 of 2 trial successes');
    expectStats(b, { successes: 2, failures: 1, rejections: 1, timesOpened: 1 });
  });

  test('a closed breaker starts with a fresh failure window', async () => {
    const { clock, b } = setup(options(3, 10000, 1000, 1, 1));
    for (const t of [0, 1, 2]) await failAt(clock, b, t); // opens at 2
    await succeedAt(clock, b, 1002);
    expectState(b, State.CLOSED, 'after the successful trial');
    await failAt(clock, b, 1003);
    await failAt(clock, b, 1004);
    expectState(b, State.CLOSED, '2 failures since closing: the 3 failures before the trip were forgotten');
    await failAt(clock, b, 1005);
    expectState(b, State.OPEN, '3 failures since closing');
  });

  test('the worked example from the statement', async () => {
    const { clock, b } = setup();
    await failAt(clock, b, 0);
    await succeedAt(clock, b, 400);
    await failAt(clock, b, 900);
    await failAt(clock, b, 1000);
    expectState(b, State.CLOSED, 't=1000');
    await failAt(clock, b, 1200);
    expectState(b, State.OPEN, 't=1200');
    await expectRejectedAt(clock, b, 3000);
    clock.set(6199);
    expectState(b, State.OPEN, 't=6199');
    await succeedAt(clock, b, 6200);
    expectState(b, State.HALF_OPEN, 't=6200');
    await succeedAt(clock, b, 6300);
    expectState(b, State.CLOSED, 't=6300');
    expectStats(b, { successes: 3, failures: 4, rejections: 1, timesOpened: 1 });
  });
});

describe('calls that finish in a later period', () => {
  test('a trial finishing after the breaker re-opened changes nothing', async () => {
    const { clock, b } = setup(options(1, 1000, 1000, 2, 1));
    await failAt(clock, b, 0);
    clock.set(1000);
    const a = await beginAdmitted(b, 'trial A');
    const c = await beginAdmitted(b, 'trial B');
    clock.set(1500);
    await c.finish(new Boom('trial B failed'));
    assert.ok(c.error instanceof Boom, `expected trial B to reject with fn's error, got ${c.error}`);
    await a.finish('ok');
    assert.equal(a.result, 'ok', `expected trial A to resolve with fn's result, got ${a.result} / ${a.error}`);
    expectState(b, State.OPEN, "trial B re-opened the breaker; trial A's late success belongs to the old period");
    await expectRejectedAt(clock, b, 2499);
    clock.set(2500);
    expectState(b, State.HALF_OPEN, 'at t=2500 (re-opened at 1500)');
    expectStats(b, { successes: 1, failures: 2, rejections: 1, timesOpened: 2 });
  });

  test('a stale trial does not free a slot in the next half-open period', async () => {
    const { clock, b } = setup(options(1, 1000, 1000, 2, 2));
    await failAt(clock, b, 0);
    clock.set(1000);
    const old = await beginAdmitted(b, 'trial A of the first half-open period');
    const other = await beginAdmitted(b, 'trial B of the first half-open period');
    await other.finish(new Boom('trial B failed')); // re-opens at 1000
    clock.set(2000);
    const c = await beginAdmitted(b, 'trial C of the second half-open period');
    await old.finish('ok'); // stale: must not free one of the 2 slots of the new period
    const d = await beginAdmitted(b, 'trial D of the second half-open period');
    await expectBeginRejected(b, 'expected trial E to be rejected: C and D are in flight (limit 2) and stale trial A must not free a slot');
    await c.finish();
    expectState(b, State.HALF_OPEN, "after 1 of 2 trial successes of the new period (A's late success does not count)");
    await d.finish();
    expectState(b, State.CLOSED, 'after 2 of 2 trial successes');
  });

  test('a call admitted before the trip does not count as a trial success', async () => {
    const { clock, b } = setup(options(1, 1000, 1000, 1, 1));
    const slow = await beginAdmitted(b, 'slow call while closed');
    await failAt(clock, b, 0); // trips at 0
    clock.set(1000);
    expectState(b, State.HALF_OPEN, 'at t=1000');
    await slow.finish('ok');
    expectState(b, State.HALF_OPEN, 'a call admitted while closed finished in the half-open period: it is not a trial');
    await succeedAt(clock, b, 1000); // the one real trial slot is still free
    expectState(b, State.CLOSED, 'after the real trial succeeded');
    expectStats(b, { successes: 2, failures: 1, timesOpened: 1 });
  });

  test('a call admitted before the trip failing later does not restart the cooldown', async () => {
    const { clock, b } = setup(options(2, 1000, 1000, 1, 1));
    const slow = await beginAdmitted(b, 'slow call while closed');
    await failAt(clock, b, 0);
    await failAt(clock, b, 10); // trips at 10
    clock.set(500);
    await slow.finish(new Boom('slow failure'));
    assert.ok(slow.error instanceof Boom, `expected the slow call to reject with fn's error, got ${slow.error}`);
    expectState(b, State.OPEN, 'at t=500');
    clock.set(1009);
    expectState(b, State.OPEN, 'at t=1009');
    clock.set(1010);
    expectState(b, State.HALF_OPEN, 'at t=1010: cooldown counts from the trip at 10, not from the late failure at 500');
    expectStats(b, { failures: 3, timesOpened: 1 });
  });
});

describe('interleaved async calls', () => {
  test('concurrent callers never exceed the trial limit when the cooldown ends', async () => {
    const callers = 50;
    const limit = 3;
    const rounds = 20;
    const { clock, b } = setup(options(1, 1000, 1000, limit, limit));
    await failAt(clock, b, 0); // opens at 0
    for (let round = 1; round <= rounds; round++) {
      // The cooldown has just ended; 50 calls are started before any of them settles.
      clock.set(round * 1000);
      const last = round === rounds;
      let entered = 0;
      let release;
      const gate = new Promise((resolve) => {
        release = resolve;
      });
      const outcomes = [];
      for (let i = 0; i < callers; i++) {
        outcomes.push(
          b.call(async () => {
            entered++;
            await gate;
            if (!last) throw new Boom('trial failed');
            return 'ok';
          }).then(() => 'trial', (e) => (e instanceof CircuitOpenError ? 'rejected' : e instanceof Boom ? 'trial' : e)),
        );
      }
      await tick();
      assert.equal(entered, limit, `round ${round}: expected exactly ${limit} of ${callers} interleaved callers to run as trials (halfOpenMaxCalls ${limit}), got ${entered}`);
      release();
      const results = await Promise.all(outcomes);
      const unexpected = results.filter((r) => r !== 'trial' && r !== 'rejected');
      assert.deepEqual(unexpected, [], `round ${round}: unexpected errors`);
      assert.equal(results.filter((r) => r === 'rejected').length, callers - limit, `round ${round}: expected ${callers - limit} rejections`);
    }
    expectState(b, State.CLOSED, `after ${limit} successful trials in the last round`);
    expectStats(b, { successes: limit, failures: 1 + (rounds - 1) * limit, rejections: rounds * (callers - limit), timesOpened: rounds });
  });

  test('trials in flight never exceed the limit under sustained load', async () => {
    const workers = 8;
    const perWorker = 500;
    const limit = 2;
    // Half-open forever: trials succeed but 10^9 successes are needed to close.
    const { clock, b } = setup(options(1, 1000, 1000, limit, 1_000_000_000));
    await failAt(clock, b, 0);
    clock.set(1000);
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    const trial = async () => {
      inFlight++;
      runs++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await (runs % 3 === 0 ? tick() : null); // let other callers run while this trial is in flight
      inFlight--;
    };
    const worker = async () => {
      for (let i = 0; i < perWorker; i++) {
        try {
          await b.call(trial);
        } catch (e) {
          if (!(e instanceof CircuitOpenError)) throw e;
          await null;
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
    assert.ok(maxInFlight <= limit, `expected at most ${limit} trials in flight at once, saw ${maxInFlight}`);
    expectState(b, State.HALF_OPEN, 'trials keep succeeding but 10^9 successes are needed');
    expectStats(b, { successes: runs, failures: 1, rejections: workers * perWorker - runs, timesOpened: 1 });
  });

  test('interleaved calls settling in any order lose no counter updates', async () => {
    const n = 1000;
    const { clock, b } = setup(options(1_000_000_000, 1000, 1000, 1, 1));
    const gates = [];
    const calls = [];
    for (let i = 0; i < n; i++) {
      calls.push(
        b.call(() => new Promise((resolve, reject) => gates.push(() => (i % 2 === 0 ? resolve('ok') : reject(new Boom()))))).catch(() => {}),
      );
    }
    await tick();
    assert.equal(gates.length, n, `expected all ${n} calls to be admitted while closed, got ${gates.length}`);
    for (const settle of shuffled(gates)) settle();
    await Promise.all(calls);
    expectStats(b, { successes: n / 2, failures: n / 2 });
    expectState(b, State.CLOSED, 'failure threshold never reached');

    const open = new CircuitBreaker(clock, options(1, 1000, 1000, 1, 1));
    await failAt(clock, open, 0); // the clock stays at 0, so the breaker stays open
    const rejected = await Promise.allSettled(Array.from({ length: n }, () => open.call(() => 'ok')));
    assert.ok(rejected.every((r) => r.status === 'rejected' && r.reason instanceof CircuitOpenError), 'expected every call to be rejected');
    expectStats(open, { failures: 1, rejections: n, timesOpened: 1 });
  });

  test('interleaved failures trip the breaker exactly once', async () => {
    const n = 1000;
    const threshold = 100;
    const { clock, b } = setup(options(threshold, 1000, 1000, 1, 1));
    const gates = [];
    const calls = [];
    for (let i = 0; i < n; i++) {
      calls.push(b.call(() => new Promise((_, reject) => gates.push(() => reject(new Boom())))).catch(() => {}));
    }
    await tick();
    assert.equal(gates.length, n, `expected all ${n} calls to be admitted while closed, got ${gates.length}`);
    for (const settle of shuffled(gates)) settle();
    await Promise.all(calls);
    expectStats(b, { failures: n, timesOpened: 1 });
    expectState(b, State.OPEN, 'after the trip (the clock never moved); late failures do not re-open it');
    await expectRejectedAt(clock, b, 999);
    clock.set(1000);
    expectState(b, State.HALF_OPEN, 'at t=1000: cooldown counts from the trip, not from later failures');
  });
});

describe('complexity', () => {
  /** A breaker fed failures 10 ms apart: with a 10 ms window only 1 is ever inside it. */
  class Feeder {
    constructor() {
      this.clock = new FakeClock();
      this.b = new CircuitBreaker(this.clock, options(3, 10, 1000, 1, 1));
      this.now = 0;
      this.rejected = Promise.reject(new Boom());
      this.rejected.catch(() => {});
    }

    /** Makes n failing calls and returns the time they took, in ms. */
    async batch(n) {
      const fail = () => this.rejected; // a failing dependency (cheaper than throwing)
      const began = performance.now();
      for (let i = 0; i < n; i++) {
        this.clock.set(this.now);
        try {
          await this.b.call(fail);
        } catch {
          // Boom
        }
        this.now += 10;
      }
      return performance.now() - began;
    }
  }

  test('the cost of a call does not grow with the number of past failures', async () => {
    await new Feeder().batch(3000); // warm up the JIT
    const small = new Feeder();
    await small.batch(10);
    const large = new Feeder();
    await large.batch(50_000);
    let bestSmall = Infinity;
    let bestLarge = Infinity;
    for (let round = 0; round < 15; round++) { // interleaved, so both see the same JIT state
      bestSmall = Math.min(bestSmall, await small.batch(200));
      bestLarge = Math.min(bestLarge, await large.batch(200));
    }
    expectState(small.b, State.CLOSED, 'small');
    expectState(large.b, State.CLOSED, 'large');
    assert.ok(bestLarge <= 10 * bestSmall,
      `expected a call after 50,000 expired failures to cost at most 10x a call after 10, got ${(bestLarge * 5).toFixed(2)} us vs ${(bestSmall * 5).toFixed(2)} us (${(bestLarge / bestSmall).toFixed(1)}x): are expired failures kept and scanned?`);
  });
});
