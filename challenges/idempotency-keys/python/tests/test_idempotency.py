import gc
import sys
import threading
import time
import unittest

from idempotency import IdempotencyConflictError, IdempotencyStore

TTL = 60_000  # one minute, in milliseconds
START = 1_000_000  # the fake clock's first reading
WATCHDOG = 2.0  # seconds; only ever reached when the store under test is broken


class FakeClock:
    def __init__(self):
        self.now = START

    def now_millis(self):
        return self.now

    def advance(self, millis):
        self.now += millis

    def describe(self):
        return f"t=+{self.now - START}ms"


class Charges:
    """A handler that counts its executions and answers 'charge-<n>'."""

    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            self.count += 1
            return f"charge-{self.count}"


class PaymentError(Exception):
    pass


def ok_handler():
    return "ok"


def run_in_thread(fn):
    """Start fn in a daemon thread; returns (thread, result) where result gets 'value' or 'error'."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            result["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def call_within(fn):
    """Run fn with a watchdog; returns (finished, result dict)."""
    thread, result = run_in_thread(fn)
    thread.join(WATCHDOG)
    return not thread.is_alive(), result


def spin_until(condition):
    deadline = time.monotonic() + WATCHDOG
    while not condition() and time.monotonic() < deadline:
        time.sleep(0)


class StoreTestCase(unittest.TestCase):
    def new_store(self, clock=None, ttl=TTL):
        return IdempotencyStore(clock or FakeClock(), ttl)

    def must_not_run(self, why):
        def handler():
            self.fail(f"the handler ran, but it must not: {why}")

        return handler

    def expect_response(self, store, client, key, payload, handler, want, why):
        try:
            got = store.execute(client, key, payload, handler)
        except Exception as error:  # noqa: BLE001
            self.fail(f"{why}: execute({client!r}, {key!r}, {payload!r}) expected response {want!r}, "
                      f"got {type(error).__name__}: {error}")
        self.assertEqual(got, want, f"{why}: execute({client!r}, {key!r}, {payload!r}) "
                                    f"expected response {want!r}, got {got!r}")

    def expect_conflict(self, store, client, key, payload, why):
        try:
            got = store.execute(client, key, payload, self.must_not_run(why))
        except IdempotencyConflictError:
            return
        except Exception as error:  # noqa: BLE001
            self.fail(f"{why}: expected IdempotencyConflictError, got {type(error).__name__}: {error}")
        self.fail(f"{why}: expected IdempotencyConflictError, got response {got!r}")

    def expect_count(self, charges, want, why):
        self.assertEqual(charges.count, want, f"{why}: expected the handler to have run {want} time(s), "
                                              f"but it ran {charges.count} time(s)")

    def expect_len(self, store, want, why):
        finished, result = call_within(lambda: len(store))
        self.assertTrue(finished, f"{why}: expected len(store) == {want}, but len() was still blocked after 2s")
        if "error" in result:
            raise result["error"]
        self.assertEqual(result["value"], want, f"{why}: expected len(store) == {want}, got {result['value']}")


class BasicsTest(StoreTestCase):
    def test_a_non_positive_ttl_is_rejected(self):
        for bad in (0, -1):
            with self.assertRaises(ValueError, msg=f"IdempotencyStore(clock, {bad}) should raise ValueError"):
                IdempotencyStore(FakeClock(), bad)

    def test_the_first_request_runs_the_handler_and_returns_its_response(self):
        store, charges = self.new_store(), Charges()
        self.expect_response(store, "client-1", "key-1", '{"amount":100}', charges, "charge-1", "first request")
        self.expect_count(charges, 1, "after the first request")

    def test_a_retry_with_the_same_key_and_payload_replays_the_stored_response_without_running_the_handler(self):
        store, charges = self.new_store(), Charges()
        self.expect_response(store, "client-1", "key-1", '{"amount":100}', charges, "charge-1", "first request")
        for i in range(3):
            self.expect_response(store, "client-1", "key-1", '{"amount":100}', charges, "charge-1", f"retry {i + 1}")
        self.expect_count(charges, 1, "after three retries of the same request")

    def test_the_same_key_with_a_different_payload_is_a_conflict(self):
        store, charges = self.new_store(), Charges()
        self.expect_response(store, "client-1", "key-1", '{"amount":100}', charges, "charge-1", "first request")
        # Same length as the first payload, only one digit differs.
        self.expect_conflict(store, "client-1", "key-1", '{"amount":900}', "same key, different payload")
        self.expect_count(charges, 1, "after a conflicting request")

    def test_a_conflict_does_not_replace_the_stored_response(self):
        store, charges = self.new_store(), Charges()
        self.expect_response(store, "client-1", "key-1", "amount=100", charges, "charge-1", "first request")
        self.expect_conflict(store, "client-1", "key-1", "amount=999", "same key, different payload")
        self.expect_response(store, "client-1", "key-1", "amount=100", charges, "charge-1",
                             "retry with the original payload after a conflict")
        self.expect_conflict(store, "client-1", "key-1", "amount=999", "the conflicting payload again")
        self.expect_count(charges, 1, "after conflicts and a replay")

    def test_different_keys_are_executed_independently(self):
        store, charges = self.new_store(), Charges()
        self.expect_response(store, "client-1", "key-A", "amount=100", charges, "charge-1", "key-A first request")
        self.expect_response(store, "client-1", "key-B", "amount=100", charges, "charge-2",
                             "key-B first request (same payload, other key)")
        self.expect_response(store, "client-1", "key-C", "amount=555", charges, "charge-3", "key-C first request")
        self.expect_response(store, "client-1", "key-A", "amount=100", charges, "charge-1", "key-A replay")
        self.expect_response(store, "client-1", "key-B", "amount=100", charges, "charge-2", "key-B replay")
        self.expect_count(charges, 3, "three distinct keys")
        self.expect_len(store, 3, "three distinct keys stored")

    def test_the_same_key_from_different_clients_is_executed_independently(self):
        store, charges = self.new_store(), Charges()
        self.expect_response(store, "alice", "order-1", "amount=100", charges, "charge-1", "alice's first request")
        # Bob may use the same key string with another payload: it is his own key.
        self.expect_response(store, "bob", "order-1", "amount=700", charges, "charge-2",
                             "bob's first request with the same key")
        self.expect_response(store, "alice", "order-1", "amount=100", charges, "charge-1", "alice's replay")
        self.expect_response(store, "bob", "order-1", "amount=700", charges, "charge-2", "bob's replay")
        self.expect_conflict(store, "alice", "order-1", "amount=700", "alice reusing her key with bob's payload")
        self.expect_count(charges, 2, "two clients, one key each")
        self.expect_len(store, 2, "two clients, one key each")

    def test_client_and_key_are_never_confused_even_when_they_contain_separators(self):
        for sep in (":", "|", "/", "-", "_", ".", "#", ",", ";", " ", "\x00", "\n", "::", "\t"):
            store, charges = self.new_store(), Charges()
            pairs = [("a" + sep + "b", "c"), ("a", "b" + sep + "c"), ("a" + sep, "b" + sep + "c"),
                     ("a", sep + "b" + sep + "c")]
            for i, (client, key) in enumerate(pairs):
                self.expect_response(store, client, key, f"p{i + 1}", charges, f"charge-{i + 1}",
                                     f"client {client!r} key {key!r} is its own (client, key) pair")
            self.expect_len(store, 4, f"four distinct (client, key) pairs built with separator {sep!r}")


class FailuresTest(StoreTestCase):
    def test_a_failed_handler_stores_nothing_so_the_next_retry_runs_again(self):
        store = self.new_store()
        runs = []
        boom = PaymentError("payment provider unavailable")

        def handler():
            runs.append(1)
            if len(runs) == 1:
                raise boom
            return f"charge-{len(runs)}"

        with self.assertRaises(PaymentError, msg="the first attempt should raise the handler's exception"):
            store.execute("client-1", "key-1", "amount=100", handler)
        self.expect_len(store, 0, "after a failed attempt nothing is stored")
        self.expect_response(store, "client-1", "key-1", "amount=100", handler, "charge-2",
                             "the retry after a failure runs the handler again")
        self.expect_response(store, "client-1", "key-1", "amount=100", handler, "charge-2",
                             "once a retry succeeded its response is replayed")
        self.assertEqual(len(runs), 2, f"expected the handler to run twice (failed, then succeeded), ran {len(runs)} times")

    def test_the_handlers_exception_reaches_the_caller_unchanged(self):
        store = self.new_store()
        boom = PaymentError("card declined")

        def handler():
            raise boom

        try:
            got = store.execute("client-1", "key-1", "amount=100", handler)
        except IdempotencyConflictError:
            self.fail("a handler failure must not be reported as IdempotencyConflictError")
        except PaymentError as error:
            self.assertIs(error, boom, "expected exactly the exception the handler raised")
        else:
            self.fail(f"expected the handler's PaymentError, got response {got!r}")

    def test_a_failed_attempt_does_not_reserve_its_payload(self):
        store = self.new_store()

        def failing():
            raise PaymentError("timeout")

        with self.assertRaises(PaymentError):
            store.execute("client-1", "key-1", "amount=100", failing)
        self.expect_response(store, "client-1", "key-1", "amount=200", Charges(), "charge-1",
                             "after a failed attempt the key is free, so a different payload runs (no conflict)")
        self.expect_conflict(store, "client-1", "key-1", "amount=100", "now the key is bound to the successful payload")


class ExpiryTest(StoreTestCase):
    def test_a_stored_response_is_replayed_until_one_millisecond_before_the_ttl(self):
        clock = FakeClock()
        store, charges = self.new_store(clock), Charges()
        self.expect_response(store, "client-1", "key-1", "amount=100", charges, "charge-1", "first request at t=+0")
        clock.advance(TTL - 1)
        self.expect_response(store, "client-1", "key-1", "amount=100", charges, "charge-1",
                             f"replay at {clock.describe()} (TTL is 60000ms)")
        self.expect_conflict(store, "client-1", "key-1", "amount=999", f"different payload at {clock.describe()}")
        self.expect_count(charges, 1, "replays before the TTL")

    def test_at_exactly_the_ttl_the_key_has_expired_and_the_handler_runs_again(self):
        clock = FakeClock()
        store, charges = self.new_store(clock), Charges()
        self.expect_response(store, "client-1", "key-1", "amount=100", charges, "charge-1", "first request at t=+0")
        clock.advance(TTL)
        self.expect_response(store, "client-1", "key-1", "amount=100", charges, "charge-2",
                             f"request at {clock.describe()} after the 60000ms TTL")
        self.expect_response(store, "client-1", "key-1", "amount=100", charges, "charge-2",
                             "the new response is stored again")
        self.expect_count(charges, 2, "one run before and one after expiry")

    def test_an_expired_key_can_be_reused_with_a_different_payload(self):
        clock = FakeClock()
        store, charges = self.new_store(clock), Charges()
        self.expect_response(store, "client-1", "key-1", "amount=100", charges, "charge-1", "first request")
        clock.advance(TTL + 5_000)
        self.expect_response(store, "client-1", "key-1", "amount=999", charges, "charge-2",
                             "different payload after expiry is a new request, not a conflict")
        self.expect_conflict(store, "client-1", "key-1", "amount=100", "the old payload now conflicts with the new one")

    def test_the_ttl_is_measured_from_when_the_response_was_stored(self):
        clock = FakeClock()
        store = self.new_store(clock)
        runs = []

        def slow():
            runs.append(1)
            clock.advance(10_000)  # the handler takes 10 seconds
            return f"charge-{len(runs)}"

        self.expect_response(store, "client-1", "key-1", "amount=100", slow, "charge-1",
                             "request started at t=+0, stored at t=+10000ms")
        clock.advance(TTL - 10_000)  # now START + TTL, but only 50s after the response was stored
        self.expect_response(store, "client-1", "key-1", "amount=100", slow, "charge-1",
                             f"replay at {clock.describe()}: 50s after the response was stored")
        clock.advance(10_000 - 1)
        self.expect_response(store, "client-1", "key-1", "amount=100", slow, "charge-1",
                             f"replay at {clock.describe()}: 1ms before stored time + TTL")
        clock.advance(1)
        self.expect_response(store, "client-1", "key-1", "amount=100", slow, "charge-2",
                             f"request at {clock.describe()}: exactly stored time + TTL, so expired")

    def test_each_key_expires_on_its_own_schedule(self):
        clock = FakeClock()
        store, charges = self.new_store(clock), Charges()
        self.expect_response(store, "client-1", "early", "p", charges, "charge-1", "key 'early' stored at t=+0")
        clock.advance(30_000)
        self.expect_response(store, "client-1", "late", "p", charges, "charge-2", "key 'late' stored at t=+30000ms")
        clock.advance(30_000)
        self.expect_len(store, 1, "at t=+60000ms only 'late' is held")
        self.expect_response(store, "client-1", "late", "p", charges, "charge-2",
                             "key 'late' at t=+60000ms is still stored")
        self.expect_response(store, "client-1", "early", "p", charges, "charge-3",
                             "key 'early' at t=+60000ms has expired")
        clock.advance(30_000)
        self.expect_response(store, "client-1", "late", "p", charges, "charge-4",
                             "key 'late' at t=+90000ms has expired")
        self.expect_response(store, "client-1", "early", "p", charges, "charge-3",
                             "key 'early' (stored again at t=+60000ms) is still stored at t=+90000ms")

    def test_a_key_in_flight_never_expires(self):
        clock = FakeClock()
        store = self.new_store(clock)
        started, release = threading.Event(), threading.Event()

        def blocking():
            started.set()
            release.wait(2 * WATCHDOG)
            return "charge-1"

        first, first_result = run_in_thread(lambda: store.execute("client-1", "key-1", "amount=100", blocking))
        try:
            self.assertTrue(started.wait(WATCHDOG), "expected the handler of the first request to start, it did not")
            clock.advance(2 * TTL)
            self.expect_len(store, 1, "a key in flight for twice the TTL is still held")
            finished, result = call_within(
                lambda: store.execute("client-1", "key-1", "amount=999", self.must_not_run("the key is in flight")))
            self.assertTrue(finished, "a conflicting request for a key in flight must fail at once, "
                                      "but it was still blocked after 2s")
            self.assertIsInstance(result.get("error"), IdempotencyConflictError,
                                  f"a different payload for a key in flight for twice the TTL: expected "
                                  f"IdempotencyConflictError, got {result}")
        finally:
            release.set()
        first.join(WATCHDOG)
        self.assertEqual(first_result, {"value": "charge-1"}, "the first request should return 'charge-1'")
        # Stored at t=+120000ms: kept until t=+180000ms.
        clock.advance(TTL - 1)
        self.expect_response(store, "client-1", "key-1", "amount=100", self.must_not_run("response stored 59999ms ago"),
                             "charge-1", f"replay at {clock.describe()}, 1ms before the response "
                                         "(stored when the handler finished at t=+120000ms) expires")


class SizeAndMemoryTest(StoreTestCase):
    def test_len_counts_keys_in_flight_and_stored_responses(self):
        store = self.new_store()
        self.expect_len(store, 0, "a new store")
        started, release = threading.Event(), threading.Event()

        def blocking():
            started.set()
            release.wait(2 * WATCHDOG)
            return "ok"

        first, _ = run_in_thread(lambda: store.execute("client-1", "in-flight", "p", blocking))
        try:
            self.assertTrue(started.wait(WATCHDOG), "expected the handler to start, it did not")
            self.expect_len(store, 1, "one key in flight")
            finished, result = call_within(lambda: store.execute("client-1", "stored", "p", ok_handler))
            self.assertTrue(finished, "a request for another key was blocked for 2s while the first key was in flight")
            self.assertEqual(result, {"value": "ok"}, "another key while the first is in flight should return 'ok'")
            self.expect_len(store, 2, "one key in flight and one stored")
        finally:
            release.set()
        first.join(WATCHDOG)
        self.expect_len(store, 2, "two stored keys")

        def failing():
            raise PaymentError("boom")

        with self.assertRaises(PaymentError):
            store.execute("client-1", "failing", "p", failing)
        self.expect_len(store, 2, "a failed request is not held")

    def test_expired_keys_are_dropped_from_the_store(self):
        clock = FakeClock()
        store, charges = self.new_store(clock), Charges()
        for i in range(1000):
            store.execute("client-1", f"key-{i}", "p", charges)
        self.expect_len(store, 1000, "1000 keys stored at t=+0")
        clock.advance(TTL - 1)
        self.expect_len(store, 1000, "at t=+59999ms no key has expired")
        clock.advance(1)
        self.expect_len(store, 0, "at t=+60000ms every key has expired, even with no request in between")
        self.expect_response(store, "client-1", "new", "p", charges, "charge-1001", "a new key after expiry")
        self.expect_len(store, 1, "only the new key is held")

    def test_memory_stays_bounded_under_a_rolling_workload(self):
        clock = FakeClock()
        store = self.new_store(clock)
        # One new key per second, each kept 60 seconds: at most 60 are ever held.
        for i in range(3000):
            if i:
                clock.advance(1_000)
            store.execute("client-1", f"key-{i}", "p", ok_handler)
            want = min(i + 1, 60)
            got = len(store)
            if got != want:
                self.fail(f"after {i + 1} requests one second apart with a 60s TTL: expected len(store) == {want}, "
                          f"got {got}")


    def test_memory_held_by_the_store_does_not_grow_while_keys_keep_expiring(self):
        windows, per_window = 10, 2000
        clock = FakeClock()
        store = self.new_store(clock)
        baseline = 0
        for w in range(windows):
            for i in range(per_window):
                key = f"w{w}-key-{i}"
                store.execute("client-1", key, "amount=100", lambda: "response-for-" + key + "r" * 80)
            self.assertEqual(len(store), per_window, f"window {w}: expected len(store) == {per_window} after storing "
                                                     f"{per_window} new keys")
            clock.advance(TTL)  # every key of this window expires
            self.assertEqual(len(store), 0, f"window {w}: expected len(store) == 0 once all its keys expired")
            if w == 1:
                gc.collect()
                baseline = sys.getallocatedblocks()
        gc.collect()
        grown = sys.getallocatedblocks() - baseline
        if grown > 10_000:
            self.fail(f"expected the memory held by the store to stay flat while keys keep expiring, but "
                      f"{grown} more memory blocks were allocated after {windows - 2} more windows of {per_window} "
                      "expired keys: are expired entries still referenced somewhere (a list, a dict of locks)?")


def filled_store(keys):
    store = IdempotencyStore(FakeClock(), TTL)
    for i in range(keys):
        store.execute("client-1", f"key-{i}", "p", ok_handler)
    return store


def cost_ratio(work, new_small, big, rounds=7):
    """Ratio of the best big-store time to the best small-store time over a few rounds.

    Noise only ever slows a run down, so the fastest run of each is the closest to its
    true cost (the garbage collector is paused meanwhile). work(target, round, budget_ns)
    may stop early once it has spent more than budget_ns: the big store gets 50x the
    small store's time, far beyond the 10x allowed, and two rounds over that budget end
    the measurement, so a store that is hopelessly slow fails without running for minutes.
    """
    best_small = best_big = float("inf")
    over_budget = 0
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for round_ in range(rounds):
            best_small = max(1, min(best_small, work(new_small(), round_, float("inf"))))
            big_time = work(lambda batch: big, round_, 50 * best_small)
            best_big = min(best_big, big_time)
            over_budget += big_time > 50 * best_small
            if best_big / best_small <= 3 or over_budget == 2:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return best_big / best_small, best_small, best_big


class ComplexityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.big = filled_store(10_000)  # shared: filling it is the slow part

    def test_execute_cost_does_not_grow_with_the_number_of_stored_keys(self):
        batches, per_batch, rounds = 40, 50, 7
        old_keys = [f"key-{i}" for i in range(10)]
        new_keys = [f"new-{i}" for i in range(rounds * batches * per_batch)]

        def work(target, round_, budget_ns):
            # Each batch: 50 replays of stored keys and 50 requests with new keys.
            total = 0
            for b in range(batches):
                if total > budget_ns:
                    break
                store = target(b)
                base = (round_ * batches + b) * per_batch
                t0 = time.perf_counter_ns()
                for i in range(per_batch):
                    store.execute("client-1", old_keys[i % 10], "p", ok_handler)
                    store.execute("client-1", new_keys[base + i], "p", ok_handler)
                total += time.perf_counter_ns() - t0
            return total

        def new_small():
            # A fresh 10-key store for every batch, so a small store never exceeds 60 keys.
            stores = [filled_store(10) for _ in range(batches)]
            return lambda batch: stores[batch]

        ratio, small_ns, big_ns = cost_ratio(work, new_small, self.big, rounds)
        self.assertEqual(self.big.execute("client-1", "key-9999", "p", ok_handler), "ok", "a replay on the big store")
        self.assertGreater(len(self.big), 10_000, "the big store should hold more than 10,000 keys after the measurements")
        if ratio > 10:
            self.fail(f"expected execute() to cost about the same with 10,000 stored keys as with 10 (at most 10x), "
                      f"but it was {ratio:.1f}x slower ({big_ns / 1e6:.2f}ms vs {small_ns / 1e6:.2f}ms for "
                      f"{2 * batches * per_batch} calls): is every call scanning all keys?")

    def test_len_cost_does_not_grow_with_the_number_of_stored_keys(self):
        calls = 5000
        small = filled_store(10)
        sizes = []

        def work(target, _round, budget_ns):
            store = target(0)
            sizes.append(len(store))
            elapsed = 0
            for _ in range(calls // 500):
                if elapsed > budget_ns:
                    break
                t0 = time.perf_counter_ns()
                for _ in range(500):
                    len(store)
                elapsed += time.perf_counter_ns() - t0
            return elapsed

        ratio, small_ns, big_ns = cost_ratio(work, lambda: (lambda batch: small), self.big)
        self.assertGreaterEqual(max(sizes), 10_000, f"len() of a store holding at least 10,000 keys returned {sizes}")
        if ratio > 10:
            self.fail(f"expected len() to cost about the same with 10,000 stored keys as with 10 (at most 10x), "
                      f"but it was {ratio:.1f}x slower ({big_ns / 1e6:.2f}ms vs {small_ns / 1e6:.2f}ms for "
                      f"{calls} calls): is it counting keys one by one?")


class ConcurrencyTest(StoreTestCase):
    def setUp(self):
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as possible so races surface

    def tearDown(self):
        sys.setswitchinterval(self._switch_interval)

    def start_together(self, count, target):
        """Start count threads running target(i) at the same moment; returns (threads, results)."""
        gate = threading.Event()
        results = [None] * count

        def run(i):
            gate.wait()
            try:
                results[i] = ("value", target(i))
            except BaseException as error:  # noqa: BLE001 - reported by the test
                results[i] = ("error", error)

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
        for thread in threads:
            thread.start()
        gate.set()
        return threads, results

    def join_all(self, threads, what):
        deadline = time.monotonic() + WATCHDOG
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = sum(thread.is_alive() for thread in threads)
        self.assertEqual(alive, 0, f"{what}: {alive} of {len(threads)} callers had not returned after 2s (deadlock?)")

    def test_concurrent_duplicates_run_the_handler_exactly_once_and_all_get_the_same_response(self):
        callers, rounds = 32, 10
        store = self.new_store()
        for round_ in range(rounds):
            key = f"order-{round_}"
            runs, arrived = [], []

            def handler():
                runs.append(1)
                # Stay in flight until every caller has called execute().
                spin_until(lambda: len(arrived) == callers)
                for _ in range(20):
                    time.sleep(0)
                return f"{key}-charge-{len(runs)}"

            def call(i):
                arrived.append(i)
                return store.execute("client-1", key, "amount=100", handler)

            threads, results = self.start_together(callers, call)
            self.join_all(threads, f"round {round_}")
            self.assertEqual(len(runs), 1, f"round {round_}: expected the handler to run exactly once for {callers} "
                                           f"concurrent duplicates, but it ran {len(runs)} times")
            for i, result in enumerate(results):
                self.assertEqual(result, ("value", f"{key}-charge-1"),
                                 f"round {round_}: caller {i} expected response '{key}-charge-1', got {result}")
        self.expect_len(store, rounds, "one stored key per round")

    def test_concurrent_requests_for_many_keys_run_each_handler_exactly_once(self):
        keys, per_key = 16, 4
        store = self.new_store()
        runs = [0] * keys
        runs_lock = threading.Lock()
        arrived = []

        def call(i):
            k = i % keys
            client, key = f"client-{k % 4}", f"key-{k}"

            def handler():
                with runs_lock:
                    runs[k] += 1
                    n = runs[k]
                spin_until(lambda: len(arrived) == keys * per_key)
                time.sleep(0)
                return f"{client}/{key}-run-{n}"

            arrived.append(i)
            return store.execute(client, key, f"amount={k}", handler)

        threads, results = self.start_together(keys * per_key, call)
        self.join_all(threads, f"{keys * per_key} concurrent requests")
        for k in range(keys):
            self.assertEqual(runs[k], 1, f"key-{k}: expected its handler to run exactly once for {per_key} "
                                         f"concurrent duplicates, ran {runs[k]} times")
        for i, result in enumerate(results):
            k = i % keys
            want = f"client-{k % 4}/key-{k}-run-1"
            self.assertEqual(result, ("value", want), f"caller {i} (key-{k}): expected {want!r}, got {result}")
        self.expect_len(store, keys, "16 keys stored")

    def test_a_duplicate_with_a_different_payload_while_in_flight_is_a_conflict_not_a_wait(self):
        store = self.new_store()
        started, release = threading.Event(), threading.Event()

        def blocking():
            started.set()
            release.wait(2 * WATCHDOG)
            return "charge-1"

        first, first_result = run_in_thread(lambda: store.execute("client-1", "key-1", "amount=100", blocking))
        try:
            self.assertTrue(started.wait(WATCHDOG), "expected the handler of the first request to start, it did not")
            finished, result = call_within(lambda: store.execute(
                "client-1", "key-1", "amount=999", self.must_not_run("the key is in flight with another payload")))
        finally:
            release.set()
        self.assertTrue(finished, "a different payload for a key in flight must be rejected at once, "
                                  "but the call was still blocked after 2s")
        self.assertIsInstance(result.get("error"), IdempotencyConflictError,
                              f"a different payload for a key in flight: expected IdempotencyConflictError, got {result}")
        first.join(WATCHDOG)
        self.assertEqual(first_result, {"value": "charge-1"}, "the first request should return 'charge-1'")

    def test_a_duplicate_with_the_same_payload_while_in_flight_waits_and_gets_the_same_response(self):
        duplicates = 8
        store = self.new_store()
        started, release = threading.Event(), threading.Event()
        charges = Charges()

        def handler():
            n = charges()
            if n == "charge-1":
                started.set()
                release.wait(2 * WATCHDOG)
            return n

        first, first_result = run_in_thread(lambda: store.execute("client-1", "key-1", "amount=100", handler))
        try:
            self.assertTrue(started.wait(WATCHDOG), "expected the handler of the first request to start, it did not")
            arrived = []

            def call(_i):
                arrived.append(1)
                return store.execute("client-1", "key-1", "amount=100", handler)

            threads, results = self.start_together(duplicates, call)
            spin_until(lambda: len(arrived) == duplicates)
            for _ in range(50):
                time.sleep(0)
        finally:
            release.set()
        first.join(WATCHDOG)
        self.join_all(threads, "duplicates sent while the first request was in flight")
        self.expect_count(charges, 1, f"a request and {duplicates} duplicates sent while it was in flight")
        self.assertEqual(first_result, {"value": "charge-1"}, "the first request should return 'charge-1'")
        for i, result in enumerate(results):
            self.assertEqual(result, ("value", "charge-1"), f"duplicate {i}: expected 'charge-1', got {result}")

    def test_a_slow_handler_for_one_key_does_not_block_other_keys(self):
        store = self.new_store()
        slow_started, fast_ran = threading.Event(), threading.Event()

        def slow():
            slow_started.set()
            if fast_ran.wait(WATCHDOG):
                return "slow-done"
            return "the handler for key 'fast' never ran while 'slow' was in flight"

        def fast():
            fast_ran.set()
            return "fast-done"

        slow_thread, slow_result = run_in_thread(lambda: store.execute("client-1", "slow", "p", slow))
        self.assertTrue(slow_started.wait(WATCHDOG), "expected the slow handler to start, it did not")
        fast_thread, fast_result = run_in_thread(lambda: store.execute("client-1", "fast", "p", fast))
        slow_thread.join(WATCHDOG + 1)
        self.assertEqual(slow_result, {"value": "slow-done"},
                         "expected the handler of key 'fast' to run while the handler of key 'slow' was in flight, "
                         "but it was blocked: do not hold a lock while a handler runs")
        fast_thread.join(WATCHDOG)
        self.assertEqual(fast_result, {"value": "fast-done"}, "key 'fast' should return 'fast-done'")

    def test_when_an_in_flight_handler_fails_every_duplicate_gets_the_error_and_the_next_retry_runs_again(self):
        callers = 32
        store = self.new_store()
        boom = PaymentError("upstream timeout")
        runs, arrived = [], []

        def failing():
            runs.append(1)
            spin_until(lambda: len(arrived) == callers)
            for _ in range(20):
                time.sleep(0)
            raise boom

        def call(i):
            arrived.append(i)
            return store.execute("client-1", "key-1", "amount=100", failing)

        threads, results = self.start_together(callers, call)
        self.join_all(threads, "when the in-flight handler failed, its waiting duplicates must be woken too")
        for i, result in enumerate(results):
            self.assertEqual(result, ("error", boom), f"caller {i}: expected the handler's exception {boom!r}, got {result}")
        runs_before = len(runs)
        self.expect_len(store, 0, "after the failed burst nothing is held")
        charges = Charges()
        self.expect_response(store, "client-1", "key-1", "amount=100", charges, "charge-1",
                             "the retry after the failed burst runs the handler again")
        self.assertEqual(len(runs), runs_before, "the failing handler ran again after the burst")


if __name__ == "__main__":
    unittest.main()
