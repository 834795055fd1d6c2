import gc
import sys
import threading
import time
import unittest
from collections import Counter

from rate_limiter import RateLimiter


class FakeClock:
    """A clock the tests move by hand: now_millis() returns `now`."""

    def __init__(self, now=0):
        self.now = now

    def now_millis(self):
        return self.now


def verdict(admitted):
    return "admitted (True)" if admitted else "rejected (False)"


class LimiterTestCase(unittest.TestCase):
    """Default limits used throughout: 5 requests per 1000 ms."""

    def setUp(self):
        self.clock = FakeClock()
        self.limiter = RateLimiter(self.clock, 5, 1000)

    def use(self, limit, window):
        self.limiter = RateLimiter(self.clock, limit, window)

    def expect(self, at, client, *expected):
        """At time `at`, call allow(client) once per expected verdict."""
        self.clock.now = at
        for n, want in enumerate(expected, start=1):
            got = self.limiter.allow(client)
            self.assertIs(
                got, want,
                f"allow({client!r}) call #{n} at t={at} ms: expected {verdict(want)}, got {got!r}")

    def expect_tracked(self, at, want):
        self.clock.now = at
        got = self.limiter.tracked_clients()
        self.assertEqual(got, want, f"tracked_clients() at t={at} ms: expected {want}, got {got}")


class SlidingWindowTest(LimiterTestCase):
    def test_admits_requests_up_to_the_limit_then_rejects(self):
        for t in range(5):
            self.expect(t, "a", True)
        self.expect(5, "a", False)
        self.expect(999, "a", False)

    def test_several_requests_in_the_same_millisecond_each_count(self):
        self.expect(100, "a", True, True, True, True, True, False)
        self.expect(1099, "a", False)
        self.expect(1100, "a", True, True, True, True, True, False)

    def test_a_request_exactly_one_window_later_is_admitted(self):
        self.use(1, 1000)
        self.expect(0, "a", True)
        self.expect(1000, "a", True)
        self.expect(2000, "a", True)

    def test_a_request_one_millisecond_before_the_window_ends_is_rejected(self):
        self.use(1, 1000)
        self.expect(0, "a", True)
        self.expect(999, "a", False)
        self.expect(1000, "a", True)
        self.expect(1999, "a", False)

    def test_the_window_slides_instead_of_resetting_at_fixed_boundaries(self):
        self.expect(900, "a", True, True, True, True, True)
        self.expect(1000, "a", False)
        self.expect(1500, "a", False)
        self.expect(1899, "a", False)
        self.expect(1900, "a", True, True, True, True, True, False)

    def test_old_requests_leave_the_window_one_at_a_time(self):
        self.use(3, 1000)
        self.expect(0, "a", True)
        self.expect(400, "a", True)
        self.expect(800, "a", True)
        self.expect(999, "a", False)
        self.expect(1000, "a", True)
        self.expect(1001, "a", False)
        self.expect(1399, "a", False)
        self.expect(1400, "a", True)
        self.expect(1799, "a", False)
        self.expect(1800, "a", True, False)

    def test_rejected_requests_do_not_count_against_the_limit(self):
        self.use(2, 1000)
        self.expect(0, "a", True, True)
        self.expect(500, "a", False, False, False)
        self.expect(1000, "a", True, True, False)
        self.expect(1999, "a", False)
        self.expect(2000, "a", True)


class PerClientLimitTest(LimiterTestCase):
    def test_clients_are_limited_independently(self):
        self.expect(0, "a", True, True, True, True, True, False)
        self.expect(0, "b", True, True, True, True, True, False)
        self.expect(10, "a", False)
        self.expect(10, "c", True)

    def test_an_override_changes_the_limit_for_that_client_only(self):
        self.limiter.set_client_limit("premium", 10, 1000)
        self.expect(0, "premium", *([True] * 10), False)
        self.expect(0, "basic", True, True, True, True, True, False)
        self.expect(1000, "premium", *([True] * 10), False)

    def test_an_override_can_use_a_longer_window(self):
        self.limiter.set_client_limit("batch", 2, 60_000)
        self.expect(0, "batch", True, True, False)
        self.expect(0, "web", True, True, True, True, True, False)
        self.expect(1000, "web", True, True, True, True, True, False)
        self.expect(1000, "batch", False)
        self.expect(59_999, "batch", False)
        self.expect(60_000, "batch", True, True, False)

    def test_changing_an_override_starts_the_client_in_a_fresh_window(self):
        self.expect(0, "x", True, True, True, True, True, False)
        self.expect(0, "y", True, True, True, True, True, False)
        self.clock.now = 10
        self.limiter.set_client_limit("x", 3, 1000)
        self.expect(10, "x", True, True, True, False)
        self.expect(10, "y", False)  # other clients keep their history
        self.clock.now = 20
        self.limiter.set_client_limit("x", 3, 1000)
        self.expect(20, "x", True, True, True, False)
        self.expect(1019, "x", False)
        self.expect(1020, "x", True, True, True, False)

    def test_an_override_still_applies_after_the_client_was_idle(self):
        self.limiter.set_client_limit("vip", 2, 1000)
        self.expect(0, "vip", True, True, False)
        self.expect_tracked(5000, 0)
        self.expect(5000, "vip", True, True, False)

    def test_invalid_limits_and_windows_are_rejected(self):
        for limit, window in [(0, 1000), (-1, 1000), (5, 0), (5, -1000)]:
            with self.assertRaises(ValueError, msg=f"RateLimiter(clock, {limit}, {window}) should raise ValueError"):
                RateLimiter(self.clock, limit, window)
        for limit, window in [(0, 1000), (3, 0)]:
            with self.assertRaises(ValueError, msg=f"set_client_limit('a', {limit}, {window}) should raise ValueError"):
                self.limiter.set_client_limit("a", limit, window)
        # the rejected overrides changed nothing: "a" still has the default 5 per 1000 ms
        self.expect(0, "a", True, True, True, True, True, False)


class IdleClientReleaseTest(LimiterTestCase):
    def test_no_clients_are_tracked_before_any_request(self):
        self.expect_tracked(0, 0)
        self.limiter.set_client_limit("a", 3, 1000)
        self.expect_tracked(0, 0)

    def test_each_client_with_requests_in_its_window_is_counted_once(self):
        self.expect(0, "a", True, True, True)
        self.expect(0, "b", True)
        self.expect(0, "c", True, True, True, True, True, False, False)
        self.expect_tracked(0, 3)

    def test_a_client_is_released_exactly_when_its_window_becomes_empty(self):
        self.expect(0, "a", True)
        self.expect(500, "b", True)
        self.expect_tracked(999, 2)
        self.expect_tracked(1000, 1)
        self.expect_tracked(1499, 1)
        self.expect_tracked(1500, 0)

    def test_a_rejected_request_does_not_keep_a_client_tracked(self):
        self.expect(0, "c", True, True, True, True, True)
        self.expect(600, "c", False, False)
        self.expect_tracked(999, 1)
        self.expect_tracked(1000, 0)

    def test_clients_with_different_windows_are_released_independently(self):
        self.limiter.set_client_limit("long", 1, 10_000)
        self.expect(0, "long", True)
        self.expect(100, "short", True)
        self.expect_tracked(1099, 2)
        self.expect_tracked(1100, 1)
        self.expect(2000, "short", True)
        self.expect_tracked(2999, 2)
        self.expect_tracked(3000, 1)
        self.expect_tracked(9999, 1)
        self.expect_tracked(10_000, 0)

    def test_a_returning_client_gets_its_full_limit_again(self):
        self.expect(0, "a", True, True, True, True, True, False)
        self.expect_tracked(1000, 0)
        self.expect(5000, "a", True, True, True, True, True, False)
        self.expect_tracked(5000, 1)

    def test_changing_an_override_releases_the_clients_history(self):
        self.expect(0, "a", True)
        self.expect_tracked(0, 1)
        self.limiter.set_client_limit("a", 2, 1000)
        self.expect_tracked(0, 0)

    def test_ten_thousand_idle_clients_are_all_released(self):
        for i in range(10_000):
            self.expect(i // 10, f"client-{i}", True)  # ten clients per millisecond, t = 0 .. 999
        self.expect_tracked(999, 10_000)
        self.expect_tracked(1000, 9990)
        self.expect_tracked(1500, 4990)
        self.expect_tracked(1998, 10)
        self.expect_tracked(1999, 0)
        self.expect(2000, "client-0", True)
        self.expect_tracked(2000, 1)


class ConcurrencyTest(unittest.TestCase):
    THREADS = 8

    def setUp(self):
        self.saved_interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as possible so races surface

    def tearDown(self):
        sys.setswitchinterval(self.saved_interval)

    def run_threads(self, work):
        barrier = threading.Barrier(self.THREADS)
        results = [None] * self.THREADS
        errors = []

        def body(index):
            try:
                barrier.wait()
                results[index] = work()
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=body, args=(i,)) for i in range(self.THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.fail(f"expected no exceptions in concurrent callers, got {errors[0]!r}")
        return results

    def test_concurrent_requests_for_one_client_never_exceed_the_limit(self):
        limiter = RateLimiter(FakeClock(0), 1990, 1000)
        admitted = sum(self.run_threads(lambda: sum(limiter.allow("hot") for _ in range(250))))
        self.assertEqual(admitted, 1990,
                         f"8 threads x 250 calls with limit 1990: expected exactly 1990 admitted, got {admitted}")
        self.assertIs(limiter.allow("hot"), False, "expected the limit to be used up after the concurrent burst")

    def test_concurrent_first_requests_from_many_new_clients_lose_no_updates(self):
        limiter = RateLimiter(FakeClock(0), 1, 1000)
        ids = [f"client-{i}" for i in range(10_000)]

        def work():  # every thread sends one request for each client, in the same order
            return [client for client in ids if limiter.allow(client)]

        admitted = Counter()
        for clients in self.run_threads(work):
            admitted.update(clients)
        wrong = {c: admitted[c] for c in ids if admitted[c] != 1}
        self.assertEqual(len(wrong), 0,
                         f"8 threads x 1 request for each of 10,000 clients (limit 1): expected every client admitted "
                         f"exactly once, but {len(wrong)} were not, e.g. (client: times admitted) "
                         f"{dict(list(wrong.items())[:3])}")
        self.assertEqual(limiter.tracked_clients(), 10_000,
                         f"expected 10000 tracked clients, got {limiter.tracked_clients()}")


SMALL, LARGE = 10, 10_000
MAX_RATIO = 10
CALLS = 200


def cost_per_call_ns(run):
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        run(CALLS)
        return (time.perf_counter_ns() - start) / CALLS
    finally:
        if enabled:
            gc.enable()


class ComplexityTest(unittest.TestCase):
    """Compares the cost per call at size 10,000 with the cost at size 10, in the same test."""

    def assert_cost_does_not_grow(self, what, make_run):
        small_run, large_run = make_run(SMALL), make_run(LARGE)
        small = min(cost_per_call_ns(small_run) for _ in range(7))
        large = float("inf")
        for _ in range(5):
            large = min(large, cost_per_call_ns(large_run))
            if large <= MAX_RATIO * small:
                return
        self.fail(f"{what}: expected the cost per call at size {LARGE:,} to be at most {MAX_RATIO}x the cost at "
                  f"size {SMALL}, but it was {large / small:.0f}x ({large:,.0f} ns vs {small:,.0f} ns) "
                  f"- is something scanned on every call?")

    def test_allow_cost_does_not_grow_with_the_number_of_clients(self):
        def make_run(n):
            clock = FakeClock(0)
            limiter = RateLimiter(clock, 1_000_000, 1_000_000_000)
            ids = [f"client-{i}" for i in range(n)]
            for client in ids:
                limiter.allow(client)
            state = {"i": 0}

            def run(calls):
                i = state["i"]
                for _ in range(calls):
                    clock.now += 1
                    limiter.allow(ids[i % n])
                    i += 1
                state["i"] = i
            return run

        self.assert_cost_does_not_grow("allow() with many active clients", make_run)

    def test_allow_cost_does_not_grow_with_requests_in_the_window(self):
        def make_run(n):
            clock = FakeClock(0)
            limiter = RateLimiter(clock, n, n)  # one request per ms keeps exactly n requests in the window
            for t in range(n):
                clock.now = t
                limiter.allow("hot")

            def run(calls):
                for _ in range(calls):
                    clock.now += 1
                    if not limiter.allow("hot"):
                        raise AssertionError(f"expected a request at t={clock.now} to be admitted: the one at "
                                             f"t={clock.now - n} just left the window (limit {n} per {n} ms)")
            return run

        self.assert_cost_does_not_grow("allow() with many requests in the client's window", make_run)

    def test_tracked_clients_cost_does_not_grow_with_the_number_of_clients(self):
        def make_run(n):
            clock = FakeClock(0)
            limiter = RateLimiter(clock, 5, 1_000_000_000)
            for i in range(n):
                limiter.allow(f"client-{i}")

            def run(calls):
                for _ in range(calls):
                    clock.now += 1
                    limiter.tracked_clients()
            return run

        self.assert_cost_does_not_grow("tracked_clients() with many active clients", make_run)


class MemoryTest(unittest.TestCase):
    CLIENTS = 5000

    def test_memory_stays_flat_while_clients_come_and_go(self):
        clock = FakeClock(0)
        limiter = RateLimiter(clock, 5, 1000)

        def serve_round(r):
            clock.now = r * 10_000  # every earlier round is idle by now
            for i in range(self.CLIENTS):
                limiter.allow(f"round-{r}-client-{i}")

        gc.collect()
        base = sys.getallocatedblocks()
        serve_round(1)
        gc.collect()
        one_round = sys.getallocatedblocks() - base
        for r in range(2, 6):
            serve_round(r)
        gc.collect()
        five_rounds = sys.getallocatedblocks() - base
        self.assertLessEqual(
            five_rounds, 1.5 * one_round,
            f"after 5 rounds of {self.CLIENTS} clients that each go idle, expected memory to stay near one round's "
            f"({one_round} allocated blocks), but it grew to {five_rounds} blocks - idle clients are not released")
        self.assertEqual(limiter.tracked_clients(), self.CLIENTS,
                         f"expected only the last round's {self.CLIENTS} clients tracked, got {limiter.tracked_clients()}")


if __name__ == "__main__":
    unittest.main()
