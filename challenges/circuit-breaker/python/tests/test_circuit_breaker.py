import gc
import sys
import threading
import time
import tracemalloc
import unittest

from circuit_breaker import CircuitBreaker, CircuitOpenError, State, Stats

GUARD_S = 2.0  # safety net for calls that never return; tests never sleep


class FakeClock:
    """A clock the tests move by hand. Calling it returns the time in ms."""

    def __init__(self, now=0):
        self.now = now

    def __call__(self):
        return self.now

    def set(self, ms):
        self.now = ms


class Boom(Exception):
    """The dependency failed."""


def make(clock, failure_threshold=3, window_ms=1000, cooldown_ms=5000,
         half_open_max_calls=2, success_threshold=2):
    return CircuitBreaker(clock, failure_threshold=failure_threshold,
                          window_ms=window_ms, cooldown_ms=cooldown_ms,
                          half_open_max_calls=half_open_max_calls,
                          success_threshold=success_threshold)


def succeed():
    return "ok"


def fail():
    raise Boom("dependency failed")


class InFlight:
    """A call running on its own thread whose fn blocks until finish()."""

    def __init__(self, breaker):
        self.entered = threading.Event()
        self.done = threading.Event()
        self.progress = threading.Event()
        self._release = threading.Event()
        self._outcome = None
        self.result = None
        self.error = None

        def fn():
            self.entered.set()
            self.progress.set()
            self._release.wait(GUARD_S)
            if isinstance(self._outcome, BaseException):
                raise self._outcome
            return self._outcome

        def run():
            try:
                self.result = breaker.call(fn)
            except BaseException as e:  # noqa: BLE001 - recorded for the test
                self.error = e
            finally:
                self.done.set()
                self.progress.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def finish(self, test, outcome="ok"):
        """Let fn return outcome (or raise it, if it is an exception)."""
        self._outcome = outcome
        self._release.set()
        if not self.done.wait(GUARD_S):
            test.fail("call() did not return after fn returned")
        return self


class BreakerTestCase(unittest.TestCase):
    def setUp(self):
        self.clock = FakeClock()

    def fail_at(self, breaker, at):
        self.clock.set(at)
        ran = []

        def fn():
            ran.append(1)
            raise Boom("dependency failed")

        with self.assertRaises(Boom, msg=f"at t={at}: expected a failing call to be admitted and re-raise fn's error"):
            breaker.call(fn)
        self.assertEqual(ran, [1], f"at t={at}: expected fn to run once")

    def succeed_at(self, breaker, at):
        self.clock.set(at)
        try:
            result = breaker.call(succeed)
        except CircuitOpenError:
            self.fail(f"at t={at}: expected the call to be admitted, but it was rejected (state {breaker.state})")
        self.assertEqual(result, "ok", f"at t={at}: expected call() to return fn's result")

    def expect_rejected_at(self, breaker, at):
        self.clock.set(at)
        ran = []
        with self.assertRaises(CircuitOpenError, msg=f"at t={at}: expected the call to be rejected with CircuitOpenError"):
            breaker.call(lambda: ran.append(1))
        self.assertEqual(ran, [], f"at t={at}: expected fn not to run for a rejected call")

    def expect_state(self, breaker, want, when):
        got = breaker.state
        self.assertIs(got, want, f"{when}: expected state {want}, got {got}")

    def expect_stats(self, breaker, **want):
        expected = Stats(**want)
        got = breaker.stats()
        self.assertEqual(got, expected, f"expected stats {expected}, got {got}")

    def begin(self, breaker):
        """Start a blocking call; return it if fn started, else (None, error)."""
        c = InFlight(breaker)
        if not c.progress.wait(GUARD_S):
            self.fail("a call neither ran fn nor returned (is a lock held while fn runs?)")
        if c.entered.is_set():
            return c, None
        return None, c.error

    def begin_admitted(self, breaker, what):
        c, err = self.begin(breaker)
        if c is None:
            self.fail(f"{what}: expected the call to be admitted (fn to run), but it raised {err!r} without running fn")
        return c


class BasicsTest(BreakerTestCase):
    def test_new_breaker_is_closed_with_all_counters_at_zero(self):
        b = make(self.clock)
        self.expect_state(b, State.CLOSED, "new breaker")
        self.expect_stats(b)

    def test_state_values_are_closed_open_and_half_open(self):
        self.assertEqual([s.value for s in (State.CLOSED, State.OPEN, State.HALF_OPEN)],
                         ["closed", "open", "half-open"])

    def test_successful_call_returns_fns_result_and_counts_a_success(self):
        b = make(self.clock)
        runs = []
        result = b.call(lambda: runs.append(1) or 42)
        self.assertEqual((result, len(runs)), (42, 1), "expected fn to run once and call() to return its result")
        self.expect_stats(b, successes=1)

    def test_failing_call_reraises_fns_own_exception_and_counts_a_failure(self):
        b = make(self.clock)
        error = Boom("exactly this one")
        def fn():
            raise error
        with self.assertRaises(Boom) as caught:
            b.call(fn)
        self.assertIs(caught.exception, error, "expected call() to re-raise the very exception fn raised")
        self.expect_stats(b, failures=1)
        self.expect_state(b, State.CLOSED, "after one failure with threshold 3")

    def test_invalid_configuration_is_rejected(self):
        for field in ("failure_threshold", "window_ms", "cooldown_ms",
                      "half_open_max_calls", "success_threshold"):
            for bad in (0, -1):
                with self.subTest(field=field, value=bad):
                    with self.assertRaises(ValueError, msg=f"expected ValueError for {field}={bad}"):
                        make(self.clock, **{field: bad})
        with self.assertRaises(ValueError, msg="expected ValueError for a missing clock"):
            make(None)
        make(self.clock, 1, 1, 1, 1, 1)  # all 1: valid

    def test_breakers_do_not_share_state(self):
        first, second = make(self.clock), make(self.clock)
        self.fail_at(first, 0)
        self.fail_at(first, 1)
        self.fail_at(second, 2)
        self.fail_at(first, 3)
        self.expect_state(first, State.OPEN, "first breaker after 3 failures")
        self.expect_state(second, State.CLOSED, "second breaker after 1 failure (the first breaker's failures are not its own)")
        self.succeed_at(second, 4)
        self.expect_stats(second, successes=1, failures=1)


class RollingWindowTest(BreakerTestCase):
    def test_breaker_trips_when_failures_in_the_window_reach_the_threshold(self):
        b = make(self.clock)
        self.fail_at(b, 0)
        self.fail_at(b, 10)
        self.expect_state(b, State.CLOSED, "after 2 of 3 failures")
        self.fail_at(b, 20)
        self.expect_state(b, State.OPEN, "after 3 failures within 1000 ms (threshold 3)")
        self.expect_stats(b, failures=3, times_opened=1)

    def test_failure_exactly_one_window_old_no_longer_counts(self):
        b = make(self.clock)
        for at in (0, 500, 1000):  # window at 1000 is (0, 1000]
            self.fail_at(b, at)
        self.expect_state(b, State.CLOSED, "failures at 0, 500, 1000 with a 1000 ms window (only 2 inside (0, 1000])")

    def test_failure_one_millisecond_inside_the_window_still_counts(self):
        b = make(self.clock)
        for at in (0, 500, 999):  # window at 999 is (-1, 999]
            self.fail_at(b, at)
        self.expect_state(b, State.OPEN, "failures at 0, 500, 999 with a 1000 ms window (all 3 inside (-1, 999])")

    def test_failures_spread_out_over_time_never_trip_the_breaker(self):
        b = make(self.clock)
        for i in range(30):
            self.fail_at(b, i * 600)  # at most 2 failures in any 1000 ms window
        self.expect_state(b, State.CLOSED, "30 failures 600 ms apart (never 3 within 1000 ms)")
        self.expect_stats(b, failures=30)

    def test_window_slides_continuously_rather_than_resetting_in_blocks(self):
        b = make(self.clock)
        for at in (0, 900, 1000):
            self.fail_at(b, at)
        self.expect_state(b, State.CLOSED, "failures at 0, 900, 1000 (2 inside (0, 1000])")
        self.fail_at(b, 1100)
        self.expect_state(b, State.OPEN, "failures at 900, 1000, 1100 are all inside (100, 1100]")

    def test_successes_do_not_erase_earlier_failures(self):
        b = make(self.clock)
        self.fail_at(b, 0)
        self.succeed_at(b, 100)
        self.fail_at(b, 200)
        self.succeed_at(b, 300)
        self.succeed_at(b, 400)
        self.fail_at(b, 500)
        self.expect_state(b, State.OPEN, "3 failures within 1000 ms with successes in between (rolling window, not consecutive failures)")
        self.expect_stats(b, successes=3, failures=3, times_opened=1)

    def test_failure_is_timed_when_the_call_finishes_not_when_it_starts(self):
        b = make(self.clock, failure_threshold=2, half_open_max_calls=1, success_threshold=1)
        self.fail_at(b, 0)
        self.clock.set(500)

        def slow_failure():
            self.clock.set(1000)  # the call takes 500 ms and fails at t=1000
            raise Boom("slow failure")

        with self.assertRaises(Boom):
            b.call(slow_failure)
        self.expect_state(b, State.CLOSED, "failure finished at 1000: window (0, 1000] holds only 1 failure")
        self.fail_at(b, 1999)
        self.expect_state(b, State.OPEN, "failures at 1000 and 1999 are inside (999, 1999]")


class OpenStateTest(BreakerTestCase):
    def trip_at(self, b, *times):
        for at in times:
            self.fail_at(b, at)

    def test_open_breaker_rejects_calls_without_running_fn(self):
        b = make(self.clock)
        self.trip_at(b, 0, 1, 2)
        for i in range(5):
            self.expect_rejected_at(b, 10 + i)
        self.expect_stats(b, failures=3, rejections=5, times_opened=1)
        self.expect_state(b, State.OPEN, "after rejected calls")

    def test_circuit_open_error_is_an_exception(self):
        self.assertTrue(issubclass(CircuitOpenError, Exception))

    def test_breaker_stays_open_until_one_millisecond_before_the_cooldown_ends(self):
        b = make(self.clock)
        self.trip_at(b, 0, 50, 100)  # opens at 100, cooldown 5000 -> half-open at 5100
        self.expect_rejected_at(b, 5099)
        self.expect_state(b, State.OPEN, "at t=5099, opened at 100 with a 5000 ms cooldown")

    def test_breaker_admits_a_trial_exactly_when_the_cooldown_ends(self):
        b = make(self.clock)
        self.trip_at(b, 0, 50, 100)
        self.succeed_at(b, 5100)
        self.expect_state(b, State.HALF_OPEN, "after 1 of 2 required trial successes")

    def test_state_reports_half_open_once_the_cooldown_ends_even_without_calls(self):
        b = make(self.clock)
        self.trip_at(b, 0, 50, 100)
        self.clock.set(5099)
        self.expect_state(b, State.OPEN, "at t=5099")
        self.clock.set(5100)
        self.expect_state(b, State.HALF_OPEN, "at t=5100 (opened at 100, cooldown 5000), no call made")
        self.expect_stats(b, failures=3, times_opened=1)

    def test_rejected_calls_do_not_extend_the_cooldown(self):
        b = make(self.clock)
        self.trip_at(b, 0, 0, 0)  # opens at 0
        for at in (1000, 2000, 3000, 4000, 4999):
            self.expect_rejected_at(b, at)
        self.succeed_at(b, 5000)
        self.expect_state(b, State.HALF_OPEN, "at t=5000 after rejected calls during the cooldown")


class HalfOpenTest(BreakerTestCase):
    def test_half_open_closes_after_the_required_number_of_successful_trials(self):
        b = make(self.clock, failure_threshold=1, cooldown_ms=1000, half_open_max_calls=2, success_threshold=3)
        self.fail_at(b, 0)  # opens at 0, half-open at 1000
        self.succeed_at(b, 1000)
        self.expect_state(b, State.HALF_OPEN, "after 1 of 3 trial successes")
        self.succeed_at(b, 1001)
        self.expect_state(b, State.HALF_OPEN, "after 2 of 3 trial successes")
        self.succeed_at(b, 1002)
        self.expect_state(b, State.CLOSED, "after 3 of 3 trial successes")
        self.expect_stats(b, successes=3, failures=1, times_opened=1)

    def test_failed_trial_reopens_the_breaker_and_restarts_the_cooldown(self):
        b = make(self.clock)
        for at in (0, 50, 100):
            self.fail_at(b, at)  # opens at 100, half-open at 5100
        self.succeed_at(b, 5100)
        self.fail_at(b, 5200)  # re-opens at 5200, half-open at 10200
        self.expect_state(b, State.OPEN, "right after a failed trial")
        self.expect_rejected_at(b, 10199)
        self.clock.set(10200)
        self.expect_state(b, State.HALF_OPEN, "at t=10200 (re-opened at 5200, cooldown 5000)")
        self.expect_stats(b, successes=1, failures=4, rejections=1, times_opened=2)

    def test_half_open_limits_trials_in_flight_not_the_total_number_of_trials(self):
        b = make(self.clock, failure_threshold=1, cooldown_ms=1000, half_open_max_calls=1, success_threshold=3)
        self.fail_at(b, 0)
        for _ in range(3):  # one trial at a time, three one after another
            self.succeed_at(b, 1000)
        self.expect_state(b, State.CLOSED, "after 3 sequential successful trials with half_open_max_calls 1")

    def test_half_open_rejects_trials_beyond_the_limit_while_others_are_in_flight(self):
        b = make(self.clock, failure_threshold=1, cooldown_ms=1000, half_open_max_calls=2, success_threshold=2)
        self.fail_at(b, 0)
        self.clock.set(1000)
        a = self.begin_admitted(b, "first trial")
        c = self.begin_admitted(b, "second trial")
        third, err = self.begin(b)
        self.assertIsNone(third, "expected the third concurrent trial to be rejected (limit 2), but fn ran")
        self.assertIsInstance(err, CircuitOpenError, f"expected CircuitOpenError for the third trial, got {err!r}")
        a.finish(self)
        self.expect_state(b, State.HALF_OPEN, "after 1 of 2 trial successes")
        c.finish(self)
        self.expect_state(b, State.CLOSED, "after 2 of 2 trial successes")
        self.expect_stats(b, successes=2, failures=1, rejections=1, times_opened=1)

    def test_closed_breaker_starts_with_a_fresh_failure_window(self):
        b = make(self.clock, failure_threshold=3, window_ms=10000, cooldown_ms=1000, half_open_max_calls=1, success_threshold=1)
        for at in (0, 1, 2):
            self.fail_at(b, at)  # opens at 2
        self.succeed_at(b, 1002)
        self.expect_state(b, State.CLOSED, "after the successful trial")
        self.fail_at(b, 1003)
        self.fail_at(b, 1004)
        self.expect_state(b, State.CLOSED, "2 failures since closing: the 3 failures before the trip were forgotten")
        self.fail_at(b, 1005)
        self.expect_state(b, State.OPEN, "3 failures since closing")

    def test_worked_example_from_the_statement(self):
        b = make(self.clock)
        self.fail_at(b, 0)
        self.succeed_at(b, 400)
        self.fail_at(b, 900)
        self.fail_at(b, 1000)
        self.expect_state(b, State.CLOSED, "t=1000")
        self.fail_at(b, 1200)
        self.expect_state(b, State.OPEN, "t=1200")
        self.expect_rejected_at(b, 3000)
        self.clock.set(6199)
        self.expect_state(b, State.OPEN, "t=6199")
        self.succeed_at(b, 6200)
        self.expect_state(b, State.HALF_OPEN, "t=6200")
        self.succeed_at(b, 6300)
        self.expect_state(b, State.CLOSED, "t=6300")
        self.expect_stats(b, successes=3, failures=4, rejections=1, times_opened=1)


class LateOutcomeTest(BreakerTestCase):
    def test_trial_finishing_after_the_breaker_reopened_changes_nothing(self):
        b = make(self.clock, failure_threshold=1, cooldown_ms=1000, half_open_max_calls=2, success_threshold=1)
        self.fail_at(b, 0)
        self.clock.set(1000)
        a = self.begin_admitted(b, "trial A")
        c = self.begin_admitted(b, "trial B")
        self.clock.set(1500)
        c.finish(self, Boom("trial B failed"))
        self.assertIsInstance(c.error, Boom, f"expected trial B to re-raise fn's error, got {c.error!r}")
        a.finish(self)
        self.assertEqual(a.result, "ok", f"expected trial A to return fn's result, got {a.result!r} / {a.error!r}")
        self.expect_state(b, State.OPEN, "trial B re-opened the breaker; trial A's late success belongs to the old period")
        self.expect_rejected_at(b, 2499)
        self.clock.set(2500)
        self.expect_state(b, State.HALF_OPEN, "at t=2500 (re-opened at 1500)")
        self.expect_stats(b, successes=1, failures=2, rejections=1, times_opened=2)

    def test_stale_trial_does_not_free_a_slot_in_the_next_half_open_period(self):
        b = make(self.clock, failure_threshold=1, cooldown_ms=1000, half_open_max_calls=2, success_threshold=2)
        self.fail_at(b, 0)
        self.clock.set(1000)
        old = self.begin_admitted(b, "trial A of the first half-open period")
        other = self.begin_admitted(b, "trial B of the first half-open period")
        other.finish(self, Boom("trial B failed"))  # re-opens at 1000
        self.clock.set(2000)
        c = self.begin_admitted(b, "trial C of the second half-open period")
        old.finish(self)  # stale: must not free one of the 2 slots of the new period
        d = self.begin_admitted(b, "trial D of the second half-open period")
        e, err = self.begin(b)
        if e is not None:
            e.finish(self)
            self.fail("expected trial E to be rejected: C and D are in flight (limit 2) and stale trial A must not free a slot; but fn ran")
        self.assertIsInstance(err, CircuitOpenError, f"expected CircuitOpenError for trial E, got {err!r}")
        c.finish(self)
        self.expect_state(b, State.HALF_OPEN, "after 1 of 2 trial successes of the new period (A's late success does not count)")
        d.finish(self)
        self.expect_state(b, State.CLOSED, "after 2 of 2 trial successes")

    def test_call_admitted_before_the_trip_does_not_count_as_a_trial_success(self):
        b = make(self.clock, failure_threshold=1, cooldown_ms=1000, half_open_max_calls=1, success_threshold=1)
        slow = self.begin_admitted(b, "slow call while closed")
        self.fail_at(b, 0)  # trips at 0
        self.clock.set(1000)
        self.expect_state(b, State.HALF_OPEN, "at t=1000")
        slow.finish(self)
        self.expect_state(b, State.HALF_OPEN, "a call admitted while closed finished in the half-open period: it is not a trial")
        self.succeed_at(b, 1000)  # the one real trial slot is still free
        self.expect_state(b, State.CLOSED, "after the real trial succeeded")
        self.expect_stats(b, successes=2, failures=1, times_opened=1)

    def test_call_admitted_before_the_trip_failing_later_does_not_restart_the_cooldown(self):
        b = make(self.clock, failure_threshold=2, cooldown_ms=1000, half_open_max_calls=1, success_threshold=1)
        slow = self.begin_admitted(b, "slow call while closed")
        self.fail_at(b, 0)
        self.fail_at(b, 10)  # trips at 10
        self.clock.set(500)
        slow.finish(self, Boom("slow failure"))
        self.assertIsInstance(slow.error, Boom, f"expected the slow call to re-raise fn's error, got {slow.error!r}")
        self.expect_state(b, State.OPEN, "at t=500")
        self.clock.set(1009)
        self.expect_state(b, State.OPEN, "at t=1009")
        self.clock.set(1010)
        self.expect_state(b, State.HALF_OPEN, "at t=1010: cooldown counts from the trip at 10, not from the late failure at 500")
        self.expect_stats(b, failures=3, times_opened=1)


class ConcurrencyTest(BreakerTestCase):
    def setUp(self):
        super().setUp()
        self._old_interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads very often so races surface

    def tearDown(self):
        sys.setswitchinterval(self._old_interval)
        super().tearDown()

    def hammer(self, workers, target):
        barrier = threading.Barrier(workers)
        errors = []

        def run():
            try:
                barrier.wait(GUARD_S)
                target()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=run, daemon=True) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(GUARD_S * 5)
        self.assertEqual(errors, [], "expected no unexpected exceptions in worker threads")

    def test_concurrent_callers_never_exceed_the_trial_limit(self):
        callers, limit, rounds = 30, 3, 10
        b = make(self.clock, failure_threshold=1, window_ms=1000, cooldown_ms=1000,
                 half_open_max_calls=limit, success_threshold=limit)
        self.fail_at(b, 0)  # opens at 0
        for rnd in range(1, rounds + 1):
            # The cooldown has just ended; 30 callers race for the 3 trial slots.
            self.clock.set(rnd * 1000)
            last = rnd == rounds
            cond = threading.Condition()
            counts = {"entered": 0, "arrived": 0}
            release = threading.Event()
            barrier = threading.Barrier(callers)
            unexpected = []

            def trial():
                with cond:
                    counts["entered"] += 1
                    counts["arrived"] += 1
                    cond.notify_all()
                release.wait(GUARD_S)
                if not last:
                    raise Boom("trial failed")
                return "ok"

            def caller():
                barrier.wait(GUARD_S)
                try:
                    b.call(trial)
                except Boom:
                    pass
                except CircuitOpenError:
                    with cond:
                        counts["arrived"] += 1
                        cond.notify_all()
                except BaseException as e:  # noqa: BLE001
                    unexpected.append(e)
                    with cond:
                        counts["arrived"] += 1
                        cond.notify_all()

            threads = [threading.Thread(target=caller, daemon=True) for _ in range(callers)]
            for t in threads:
                t.start()
            with cond:
                all_arrived = cond.wait_for(lambda: counts["arrived"] == callers, GUARD_S)
            entered = counts["entered"]
            release.set()
            for t in threads:
                t.join(GUARD_S)
            self.assertEqual(unexpected, [], f"round {rnd}: unexpected exceptions")
            self.assertTrue(all_arrived, f"round {rnd}: only {counts['arrived']} of {callers} callers were admitted or rejected")
            self.assertEqual(entered, limit,
                             f"round {rnd}: expected exactly {limit} of {callers} racing callers to run as trials "
                             f"(half_open_max_calls {limit}), got {entered}")
        self.expect_state(b, State.CLOSED, f"after {limit} successful trials in the last round")
        self.expect_stats(b, successes=limit, failures=1 + (rounds - 1) * limit,
                          rejections=rounds * (callers - limit), times_opened=rounds)

    def test_trials_in_flight_never_exceed_the_limit_under_sustained_load(self):
        workers, per_worker, limit = 8, 1000, 2
        # Half-open forever: trials succeed but 10**9 successes are needed to close.
        b = make(self.clock, failure_threshold=1, cooldown_ms=1000,
                 half_open_max_calls=limit, success_threshold=10**9)
        self.fail_at(b, 0)
        self.clock.set(1000)
        lock = threading.Lock()
        seen = {"now": 0, "max": 0, "runs": 0}

        def trial():
            with lock:
                seen["now"] += 1
                seen["runs"] += 1
                seen["max"] = max(seen["max"], seen["now"])
            time.sleep(0)  # let other threads run while this trial is in flight
            with lock:
                seen["now"] -= 1

        def call_many():
            for _ in range(per_worker):
                try:
                    b.call(trial)
                except CircuitOpenError:
                    pass

        self.hammer(workers, call_many)
        self.assertLessEqual(seen["max"], limit,
                             f"expected at most {limit} trials in flight at once, saw {seen['max']}")
        self.expect_state(b, State.HALF_OPEN, "trials keep succeeding but 10**9 successes are needed")
        self.expect_stats(b, successes=seen["runs"], failures=1,
                          rejections=workers * per_worker - seen["runs"], times_opened=1)

    def test_concurrent_calls_lose_no_counter_updates(self):
        workers, per_worker = 8, 1000
        closed = make(self.clock, failure_threshold=1)

        def succeed_many():
            for _ in range(per_worker):
                closed.call(succeed)

        self.hammer(workers, succeed_many)
        self.expect_stats(closed, successes=workers * per_worker)
        self.expect_state(closed, State.CLOSED, "only successes")

        opened = make(self.clock, failure_threshold=1)
        self.fail_at(opened, 0)  # the clock stays at 0, so the breaker stays open

        def rejected_many():
            for _ in range(per_worker):
                try:
                    opened.call(succeed)
                except CircuitOpenError:
                    pass

        self.hammer(workers, rejected_many)
        self.expect_stats(opened, failures=1, rejections=workers * per_worker, times_opened=1)

    def test_concurrent_failures_trip_the_breaker_exactly_once(self):
        workers, per_worker, threshold = 8, 100, 100
        b = make(self.clock, failure_threshold=threshold, cooldown_ms=1000)
        ran = []  # list.append is atomic

        def fn():
            ran.append(1)
            raise Boom("dependency failed")

        def fail_many():
            for _ in range(per_worker):
                try:
                    b.call(fn)
                except (Boom, CircuitOpenError):
                    pass

        self.hammer(workers, fail_many)
        s = b.stats()
        self.assertEqual(s.times_opened, 1, f"expected the breaker to open exactly once, got times_opened={s.times_opened}")
        self.expect_state(b, State.OPEN, "after the trip (the clock never moved)")
        self.assertEqual(s.failures, len(ran), f"expected failures to equal the {len(ran)} runs of fn, got {s}")
        self.assertGreaterEqual(s.failures, threshold, f"expected at least {threshold} failures, got {s}")
        self.assertEqual(s.failures + s.rejections, workers * per_worker,
                         f"expected failures + rejections = {workers * per_worker}, got {s}")


class Feeder:
    """A breaker fed failures 10 ms apart: with a 10 ms window only 1 is ever inside it."""

    def __init__(self, history):
        self.clock = FakeClock()
        self.breaker = make(self.clock, failure_threshold=3, window_ms=10, cooldown_ms=1000,
                            half_open_max_calls=1, success_threshold=1)
        self.batch(history)

    def batch(self, n):
        """Make n failing calls and return the time they took."""
        clock, breaker = self.clock, self.breaker
        began = time.perf_counter()
        for _ in range(n):
            try:
                breaker.call(fail)
            except Boom:
                pass
            clock.now += 10
        return time.perf_counter() - began


class ComplexityTest(BreakerTestCase):
    def test_call_cost_does_not_grow_with_the_number_of_past_failures(self):
        small, large = Feeder(10), Feeder(10_000)
        best_small = best_large = float("inf")
        for _ in range(15):  # interleaved, so both see the same conditions
            best_small = min(best_small, small.batch(200))
            best_large = min(best_large, large.batch(200))
        for f in (small, large):
            self.assertIs(f.breaker.state, State.CLOSED, "expected the breaker to stay closed")
        self.assertLessEqual(
            best_large, 10 * best_small,
            f"expected a call after 10,000 expired failures to cost at most 10x a call after 10, "
            f"got {best_large / 200 * 1e6:.1f} us vs {best_small / 200 * 1e6:.1f} us "
            f"({best_large / best_small:.1f}x): are expired failures kept and scanned?")

    def test_expired_failures_are_not_kept_in_memory(self):
        clock = FakeClock()
        b = make(clock, failure_threshold=3, window_ms=10, cooldown_ms=1000, half_open_max_calls=1, success_threshold=1)
        times = [i * 10 for i in range(1, 5001)]  # allocated before measuring
        with self.assertRaises(Boom):
            b.call(fail)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for t in times:
                clock.now = t
                try:
                    b.call(fail)
                except Boom:
                    pass
            gc.collect()
            retained = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        self.assertLess(retained, 16 * 1024,
                        f"expected expired failures to be discarded (at most 2 are ever inside the window), "
                        f"but memory grew by {retained} bytes after 5,000 failures")


if __name__ == "__main__":
    unittest.main()
