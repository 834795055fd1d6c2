import gc
import random
import sys
import threading
import time
import tracemalloc
import unittest
import weakref

from lru_cache import CacheStats, LRUCache

START_MS = 1_000_000  # the fake clock starts at an arbitrary non-zero time


class FakeClock:
    """A clock the tests move forward by hand; cache calls clock() for ms."""

    def __init__(self, now=START_MS):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, ms):
        self.now += ms


class YieldingClock(FakeClock):
    """Lets other threads run whenever the cache reads the time, so a cache
    that reads the clock in the middle of an unlocked operation is
    interrupted exactly there."""

    def __call__(self):
        time.sleep(0)
        return self.now


def stats_tuple(stats):
    return (stats.hits, stats.misses, stats.evictions, stats.expirations)


class CacheTestCase(unittest.TestCase):
    longMessage = False  # our messages already say what was expected and what happened
    MISSING = object()

    def new_cache(self, capacity, clock=None):
        self.clock = clock if clock is not None else FakeClock()
        return LRUCache(capacity, self.clock)

    def expect_hit(self, cache, key, want):
        got = cache.get(key, self.MISSING)
        if got is self.MISSING:
            self.fail(f"get({key!r}): expected a hit with value {want!r}, got a miss")
        self.assertEqual(got, want, f"get({key!r}): expected value {want!r}, got {got!r}")

    def expect_miss(self, cache, key):
        got = cache.get(key, self.MISSING)
        if got is not self.MISSING:
            self.fail(f"get({key!r}): expected a miss, got a hit with value {got!r}")

    def expect_len(self, cache, want):
        got = len(cache)
        self.assertEqual(got, want, f"len(cache): expected {want} stored entries, got {got}")

    def expect_stats(self, cache, hits=0, misses=0, evictions=0, expirations=0):
        got = stats_tuple(cache.stats())
        want = (hits, misses, evictions, expirations)
        self.assertEqual(
            got, want,
            "stats() as (hits, misses, evictions, expirations): expected %r, got %r" % (want, got))


class BasicsTest(CacheTestCase):
    def test_get_on_an_empty_cache_is_a_miss(self):
        cache = self.new_cache(3)
        self.expect_miss(cache, "a")
        self.expect_stats(cache, misses=1)
        self.expect_len(cache, 0)

    def test_get_returns_none_or_the_given_default_on_a_miss(self):
        cache = self.new_cache(3)
        self.assertIsNone(cache.get("a"), "get('a') on a miss: expected None")
        self.assertEqual(cache.get("a", "fallback"), "fallback",
                         "get('a', 'fallback') on a miss: expected 'fallback'")
        self.expect_stats(cache, misses=2)

    def test_put_then_get_returns_the_value(self):
        cache = self.new_cache(3)
        cache.put("a", 1, 0)
        self.expect_len(cache, 1)
        self.expect_hit(cache, "a", 1)
        self.expect_stats(cache, hits=1)

    def test_ttl_defaults_to_never_expiring(self):
        cache = self.new_cache(3)
        cache.put("a", 1)
        self.clock.advance(10 ** 12)
        self.expect_hit(cache, "a", 1)

    def test_put_on_an_existing_key_replaces_the_value_without_growing(self):
        cache = self.new_cache(3)
        cache.put("a", 1, 0)
        cache.put("a", 2, 0)
        self.expect_len(cache, 1)
        self.expect_hit(cache, "a", 2)
        self.expect_stats(cache, hits=1)

    def test_keys_are_isolated_from_each_other(self):
        cache = self.new_cache(5)
        cache.put("a", 1, 0)
        cache.put("b", 2, 0)
        cache.put(("a", "b"), 3, 0)
        cache.put(1, "int one", 0)
        self.expect_hit(cache, "a", 1)
        self.expect_hit(cache, "b", 2)
        self.expect_hit(cache, ("a", "b"), 3)
        self.expect_hit(cache, 1, "int one")
        self.assertTrue(cache.delete("a"), "delete('a') of a live entry: expected True")
        self.expect_miss(cache, "a")
        self.expect_hit(cache, "b", 2)
        self.expect_hit(cache, ("a", "b"), 3)
        self.expect_len(cache, 3)

    def test_capacity_below_one_is_rejected(self):
        for capacity in (0, -1):
            with self.assertRaises(ValueError, msg=f"LRUCache({capacity}, clock): expected ValueError"):
                LRUCache(capacity, FakeClock())

    def test_a_negative_ttl_is_rejected_and_changes_nothing(self):
        cache = self.new_cache(1)
        cache.put("a", 1, 0)
        with self.assertRaises(ValueError, msg="put('a', 2, -1): expected ValueError"):
            cache.put("a", 2, -1)
        with self.assertRaises(ValueError, msg="put('b', 2, -1): expected ValueError"):
            cache.put("b", 2, -1)
        self.expect_len(cache, 1)
        self.expect_hit(cache, "a", 1)
        self.expect_miss(cache, "b")
        self.expect_stats(cache, hits=1, misses=1)


class RecencyTest(CacheTestCase):
    def test_inserting_beyond_capacity_evicts_the_least_recently_used_entry(self):
        cache = self.new_cache(3)
        for k in "abcd":
            cache.put(k, k.upper(), 0)
        self.expect_len(cache, 3)
        self.expect_stats(cache, evictions=1)
        self.expect_miss(cache, "a")
        for k in "bcd":
            self.expect_hit(cache, k, k.upper())

    def test_get_makes_an_entry_the_most_recently_used(self):
        cache = self.new_cache(3)
        for k in "abc":
            cache.put(k, k, 0)
        self.expect_hit(cache, "a", "a")  # order (LRU first): b c a
        cache.put("d", "d", 0)  # evicts b
        self.expect_miss(cache, "b")
        for k in "acd":
            self.expect_hit(cache, k, k)
        self.expect_stats(cache, hits=4, misses=1, evictions=1)

    def test_put_on_an_existing_key_makes_it_the_most_recently_used(self):
        cache = self.new_cache(3)
        for k in "abc":
            cache.put(k, k, 0)
        cache.put("a", "a2", 0)  # order: b c a
        cache.put("d", "d", 0)  # evicts b
        self.expect_miss(cache, "b")
        self.expect_hit(cache, "a", "a2")
        self.expect_stats(cache, hits=1, misses=1, evictions=1)

    def test_a_miss_does_not_change_the_recency_order(self):
        cache = self.new_cache(2)
        cache.put("a", 1, 0)
        cache.put("b", 2, 0)
        self.expect_miss(cache, "zzz")
        cache.put("c", 3, 0)  # still evicts a
        self.expect_miss(cache, "a")
        self.expect_hit(cache, "b", 2)
        self.expect_hit(cache, "c", 3)
        self.expect_stats(cache, hits=2, misses=2, evictions=1)

    def test_capacity_one_keeps_only_the_newest_entry(self):
        cache = self.new_cache(1)
        for i in range(5):
            cache.put(f"k{i}", f"v{i}", 0)
            self.expect_len(cache, 1)
        self.expect_hit(cache, "k4", "v4")
        self.expect_miss(cache, "k3")
        self.expect_stats(cache, hits=1, misses=1, evictions=4)

    def test_eviction_order_follows_recency_over_a_longer_sequence(self):
        cache = self.new_cache(4)
        for k in "abcd":
            cache.put(k, k, 0)
        # order (LRU first): a b c d
        self.expect_hit(cache, "b", "b")  # a c d b
        self.expect_hit(cache, "a", "a")  # c d b a
        cache.put("c", "c2", 0)  # d b a c
        cache.put("e", "e", 0)  # evicts d -> b a c e
        cache.put("f", "f", 0)  # evicts b -> a c e f
        self.expect_hit(cache, "a", "a")  # c e f a
        cache.put("g", "g", 0)  # evicts c -> e f a g
        for k in "bcd":
            self.expect_miss(cache, k)
        for k in "efag":
            self.expect_hit(cache, k, k)
        self.expect_stats(cache, hits=7, misses=3, evictions=3)


class ExpiryTest(CacheTestCase):
    def test_entry_is_live_one_ms_before_expiry_and_expired_exactly_at_expiry(self):
        cache = self.new_cache(3)
        cache.put("a", 1, 100)  # expires at start + 100
        self.clock.advance(99)
        self.expect_hit(cache, "a", 1)
        self.clock.advance(1)  # now == expires_at: expired
        self.expect_miss(cache, "a")
        self.expect_len(cache, 0)
        self.expect_stats(cache, hits=1, misses=1, expirations=1)

    def test_a_ttl_of_one_ms_expires_on_the_next_millisecond(self):
        cache = self.new_cache(3)
        cache.put("a", 1, 1)
        self.expect_hit(cache, "a", 1)
        self.clock.advance(1)
        self.expect_miss(cache, "a")
        self.expect_stats(cache, hits=1, misses=1, expirations=1)

    def test_zero_ttl_never_expires(self):
        cache = self.new_cache(3)
        cache.put("a", 1, 0)
        self.clock.advance(10 ** 12)
        self.expect_hit(cache, "a", 1)
        self.expect_stats(cache, hits=1)

    def test_expiry_is_counted_from_the_put_not_from_cache_creation(self):
        cache = self.new_cache(3)
        self.clock.advance(500)
        cache.put("a", 1, 100)
        self.clock.advance(99)
        self.expect_hit(cache, "a", 1)
        self.clock.advance(1)
        self.expect_miss(cache, "a")

    def test_get_does_not_extend_the_ttl(self):
        cache = self.new_cache(3)
        cache.put("a", 1, 100)
        for _ in range(9):
            self.clock.advance(10)
            self.expect_hit(cache, "a", 1)
        self.clock.advance(10)
        self.expect_miss(cache, "a")
        self.expect_stats(cache, hits=9, misses=1, expirations=1)

    def test_put_on_an_existing_key_resets_its_ttl(self):
        cache = self.new_cache(3)
        cache.put("a", 1, 100)
        self.clock.advance(50)
        cache.put("a", 2, 100)  # now expires at +150
        self.clock.advance(99)
        self.expect_hit(cache, "a", 2)
        self.clock.advance(1)
        self.expect_miss(cache, "a")

        cache.put("b", 1, 10)
        cache.put("b", 2, 0)  # ttl 0 removes the expiry
        self.clock.advance(1_000_000)
        self.expect_hit(cache, "b", 2)

        cache.put("c", 1, 0)
        cache.put("c", 2, 5)  # and a ttl can be added later
        self.clock.advance(5)
        self.expect_miss(cache, "c")
        self.expect_stats(cache, hits=2, misses=2, expirations=2)

    def test_each_entry_has_its_own_ttl(self):
        cache = self.new_cache(3)
        cache.put("short", "s", 50)
        cache.put("long", "l", 200)
        cache.put("forever", "f", 0)
        self.clock.advance(100)
        self.expect_miss(cache, "short")
        self.expect_hit(cache, "long", "l")
        self.expect_hit(cache, "forever", "f")
        self.clock.advance(100)
        self.expect_miss(cache, "long")
        self.expect_hit(cache, "forever", "f")
        self.expect_stats(cache, hits=3, misses=2, expirations=2)

    def test_an_expired_get_counts_as_a_miss_and_an_expiration_but_not_an_eviction(self):
        cache = self.new_cache(3)
        cache.put("a", 1, 10)
        self.clock.advance(10)
        self.expect_miss(cache, "a")
        self.expect_stats(cache, misses=1, expirations=1)
        self.expect_miss(cache, "a")  # already removed: a plain miss
        self.expect_stats(cache, misses=2, expirations=1)

    def test_expired_entries_stay_stored_until_something_touches_them(self):
        cache = self.new_cache(3)
        cache.put("a", 1, 10)
        cache.put("b", 2, 10)
        self.clock.advance(50)
        self.expect_len(cache, 2)
        self.expect_stats(cache)
        self.expect_miss(cache, "a")
        self.expect_len(cache, 1)
        self.expect_stats(cache, misses=1, expirations=1)

    def test_a_full_cache_removes_an_expired_least_recently_used_entry_as_an_expiration(self):
        cache = self.new_cache(2)
        cache.put("x", 1, 10)
        cache.put("y", 2, 0)
        self.clock.advance(50)
        self.expect_len(cache, 2)
        cache.put("z", 3, 0)  # x is the LRU and expired
        self.expect_stats(cache, expirations=1)
        self.expect_len(cache, 2)
        self.expect_hit(cache, "y", 2)
        self.expect_hit(cache, "z", 3)

    def test_only_the_least_recently_used_entry_is_evicted_even_if_another_has_expired(self):
        cache = self.new_cache(2)
        cache.put("a", 1, 0)
        cache.put("b", 2, 10)
        self.clock.advance(50)
        cache.put("c", 3, 0)  # LRU is a (live): evicted; b stays stored although expired
        self.expect_stats(cache, evictions=1)
        self.expect_len(cache, 2)
        self.expect_miss(cache, "b")
        self.expect_stats(cache, misses=1, evictions=1, expirations=1)
        self.expect_miss(cache, "a")
        self.expect_hit(cache, "c", 3)

    def test_put_over_an_expired_key_counts_one_expiration_and_stores_a_fresh_entry(self):
        cache = self.new_cache(2)
        cache.put("a", 1, 10)
        cache.put("b", 2, 0)
        self.clock.advance(20)
        cache.put("a", "new", 10)  # expired -> replaced, now most recently used
        self.expect_stats(cache, expirations=1)
        self.expect_len(cache, 2)
        cache.put("c", 3, 0)  # evicts b, not a
        self.expect_stats(cache, evictions=1, expirations=1)
        self.expect_hit(cache, "a", "new")
        self.expect_miss(cache, "b")
        self.clock.advance(10)
        self.expect_miss(cache, "a")
        self.expect_stats(cache, hits=1, misses=2, evictions=1, expirations=2)


class DeleteTest(CacheTestCase):
    def test_delete_removes_a_live_entry_and_frees_its_slot(self):
        cache = self.new_cache(2)
        cache.put("a", 1, 0)
        cache.put("b", 2, 0)
        self.assertIs(cache.delete("a"), True, "delete('a') of a live entry: expected True")
        self.expect_len(cache, 1)
        cache.put("c", 3, 0)  # there is room: nothing evicted
        self.expect_stats(cache)
        self.expect_hit(cache, "b", 2)
        self.expect_hit(cache, "c", 3)
        self.expect_miss(cache, "a")

    def test_delete_of_an_absent_or_expired_key_returns_false(self):
        cache = self.new_cache(3)
        self.assertIs(cache.delete("nope"), False, "delete('nope') of an absent key: expected False")
        cache.put("a", 1, 10)
        self.clock.advance(10)
        self.assertIs(cache.delete("a"), False, "delete('a') of an expired entry: expected False")
        self.expect_len(cache, 0)
        self.expect_stats(cache, expirations=1)
        self.assertIs(cache.delete("a"), False, "second delete('a'): expected False")
        self.expect_stats(cache, expirations=1)


class StatsTest(CacheTestCase):
    def test_stats_start_at_zero_and_puts_never_count_as_hits_or_misses(self):
        cache = self.new_cache(2)
        self.expect_stats(cache)
        cache.put("a", 1, 0)
        cache.put("a", 2, 0)
        cache.put("b", 1, 0)
        self.expect_stats(cache)

    def test_stats_are_a_snapshot_with_named_fields(self):
        cache = self.new_cache(2)
        cache.put("a", 1, 0)
        cache.get("a")
        snapshot = cache.stats()
        self.assertIsInstance(snapshot, CacheStats, "stats(): expected a CacheStats")
        cache.get("a")
        cache.get("zzz")
        self.assertEqual(stats_tuple(snapshot), (1, 0, 0, 0),
                         "a stats() snapshot must not change after later operations, got %r"
                         % (stats_tuple(snapshot),))
        self.assertEqual(cache.stats(), CacheStats(hits=2, misses=1, evictions=0, expirations=0))

    def test_readme_examples(self):
        cache = self.new_cache(2)
        cache.put("a", "1", 100)
        cache.put("b", "2", 0)
        self.expect_hit(cache, "a", "1")
        cache.put("c", "3", 0)
        self.expect_stats(cache, hits=1, evictions=1)
        self.expect_miss(cache, "b")
        self.clock.advance(99)
        self.expect_hit(cache, "a", "1")
        self.clock.advance(1)
        self.expect_miss(cache, "a")
        self.expect_len(cache, 1)
        self.expect_stats(cache, hits=2, misses=2, evictions=1, expirations=1)

        cache = self.new_cache(2)
        cache.put("x", "1", 10)
        cache.put("y", "2", 0)
        self.clock.advance(50)
        self.expect_len(cache, 2)
        cache.put("z", "3", 0)
        self.expect_stats(cache, expirations=1)


class Model:
    """A deliberately simple (slow) cache that follows the README rules."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.entries = []  # [key, value, expires_at or None], least recently used first
        self.hits = self.misses = self.evictions = self.expirations = 0

    @staticmethod
    def expired(entry, now):
        return entry[2] is not None and now >= entry[2]

    def find(self, key):
        for i, e in enumerate(self.entries):
            if e[0] == key:
                return i
        return -1

    def get(self, key, now):
        i = self.find(key)
        if i < 0:
            self.misses += 1
            return None
        e = self.entries.pop(i)
        if self.expired(e, now):
            self.misses += 1
            self.expirations += 1
            return None
        self.hits += 1
        self.entries.append(e)
        return e[1]

    def put(self, key, value, ttl, now):
        i = self.find(key)
        if i >= 0:
            if self.expired(self.entries[i], now):
                self.expirations += 1
            self.entries.pop(i)
        elif len(self.entries) == self.capacity:
            if self.expired(self.entries[0], now):
                self.expirations += 1
            else:
                self.evictions += 1
            self.entries.pop(0)
        self.entries.append([key, value, now + ttl if ttl > 0 else None])

    def delete(self, key, now):
        i = self.find(key)
        if i < 0:
            return False
        e = self.entries.pop(i)
        if self.expired(e, now):
            self.expirations += 1
            return False
        return True

    def stats(self):
        return (self.hits, self.misses, self.evictions, self.expirations)


class ModelTest(CacheTestCase):
    def test_random_operations_match_a_simple_reference_model(self):
        rng = random.Random(20240611)
        for capacity in (1, 2, 4, 7):
            cache = self.new_cache(capacity)
            model = Model(capacity)
            history = []

            def check(what, got, want):
                if got != want:
                    self.fail("capacity %d, after these operations (most recent last):\n  %s\n%s: expected %r, got %r"
                              % (capacity, "\n  ".join(history[-12:]), what, want, got))

            for op in range(700):
                key = "k%d" % rng.randrange(capacity + 3)
                now = self.clock() - START_MS
                r = rng.randrange(100)
                if r < 35:
                    history.append(f"t={now} get({key!r})")
                    check(f"get({key!r})", cache.get(key), model.get(key, now))
                elif r < 70:
                    ttl = 0 if rng.randrange(10) < 3 else rng.randint(1, 25)
                    value = f"v{op}"
                    history.append(f"t={now} put({key!r}, {value!r}, {ttl})")
                    model.put(key, value, ttl, now)
                    cache.put(key, value, ttl)
                elif r < 80:
                    history.append(f"t={now} delete({key!r})")
                    check(f"delete({key!r})", cache.delete(key), model.delete(key, now))
                else:
                    step = rng.randrange(12)
                    history.append(f"advance clock by {step}ms")
                    self.clock.advance(step)
                check("len(cache)", len(cache), len(model.entries))
                check("stats() as (hits, misses, evictions, expirations)",
                      stats_tuple(cache.stats()), model.stats())


WORKERS = 8


class ConcurrencyTest(CacheTestCase):
    def setUp(self):
        self._old_interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads very often so races surface

    def tearDown(self):
        sys.setswitchinterval(self._old_interval)

    def run_workers(self, body, n=WORKERS):
        """Runs body(worker_index) in n threads started together; fails the
        test with the first exception raised in any of them."""
        errors = []
        barrier = threading.Barrier(n)

        def run(w):
            try:
                barrier.wait()
                body(w)
            except BaseException as e:  # noqa: BLE001 - report everything
                errors.append((w, e))

        threads = [threading.Thread(target=run, args=(w,)) for w in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            w, e = errors[0]
            self.fail(f"worker {w} of {n} sharing one cache raised {type(e).__name__}: {e} "
                      "(is every operation done under a lock?)")

    def expect_consistent_after_concurrency(self, cache, capacity):
        """Filling the cache with fresh keys must remove every older entry
        exactly once and keep all the fresh ones."""
        before = cache.stats()
        stored = len(cache)
        self.assertLessEqual(stored, capacity,
                             f"len(cache): expected at most {capacity} entries after concurrent use, got {stored}")
        for i in range(capacity):
            cache.put(("fresh", i), "f", 0)
        after = cache.stats()
        removed = (after.evictions - before.evictions) + (after.expirations - before.expirations)
        self.assertEqual(removed, stored,
                         f"after concurrent use the cache held {stored} entries; putting {capacity} fresh keys "
                         f"should remove exactly those, but it counted {removed} evictions+expirations")
        self.expect_len(cache, capacity)
        for i in range(capacity):
            self.expect_hit(cache, ("fresh", i), "f")

    def test_concurrent_gets_count_every_hit(self):
        keys, per_worker = 16, 1500
        cache = self.new_cache(keys)
        for k in range(keys):
            cache.put(k, f"v{k}", 0)

        def body(w):
            for i in range(per_worker):
                k = (i + w) % keys
                v = cache.get(k)
                if v != f"v{k}":
                    raise AssertionError(f"get({k}): expected 'v{k}', got {v!r}")

        self.run_workers(body)
        self.expect_stats(cache, hits=WORKERS * per_worker)
        self.expect_consistent_after_concurrency(cache, keys)

    def test_concurrent_puts_never_exceed_capacity_and_count_every_eviction(self):
        capacity, per_worker = 50, 600
        cache = self.new_cache(capacity)

        def body(w):
            for i in range(per_worker):
                cache.put((w, i), i, 0)

        self.run_workers(body)
        self.expect_len(cache, capacity)
        self.expect_stats(cache, evictions=WORKERS * per_worker - capacity)
        live = sum(1 for w in range(WORKERS) for i in range(per_worker)
                   if cache.get((w, i), self.MISSING) is not self.MISSING)
        self.assertEqual(live, capacity,
                         f"expected exactly {capacity} of the {WORKERS * per_worker} keys to be retrievable, got {live}")

    def test_concurrent_workers_on_separate_keys_see_only_their_own_values_and_exact_counts(self):
        keys_per_worker, rounds = 20, 10
        cache = self.new_cache(WORKERS * keys_per_worker)

        def body(w):
            names = [f"w{w}-k{k}" for k in range(keys_per_worker)]
            for r in range(rounds):
                want = f"w{w}-r{r}"
                for k in names:
                    cache.put(k, want, 3_600_000)
                for k in names:
                    got = cache.get(k, self.MISSING)
                    if got != want:
                        raise AssertionError(f"get({k!r}): expected {want!r}, got {got!r}")
                for k in names[::5]:
                    if cache.delete(k) is not True:
                        raise AssertionError(f"delete({k!r}) of a live entry: expected True")
                    got = cache.get(k, self.MISSING)
                    if got is not self.MISSING:
                        raise AssertionError(f"get({k!r}) after delete: expected a miss, got {got!r}")

        self.run_workers(body)
        self.expect_stats(cache, hits=WORKERS * rounds * keys_per_worker,
                          misses=WORKERS * rounds * keys_per_worker // 5)
        self.expect_len(cache, WORKERS * keys_per_worker * 4 // 5)

    def test_concurrent_readers_count_each_expired_entry_exactly_once(self):
        keys = 150
        clock = YieldingClock()
        cache = self.new_cache(keys, clock)
        for k in range(keys):
            cache.put(k, "v", 10)
        clock.advance(10)

        def body(w):
            for k in range(keys):  # every worker reads the same keys in the same order
                got = cache.get(k, self.MISSING)
                if got is not self.MISSING:
                    raise AssertionError(f"get({k}): expected a miss for an expired key, got {got!r}")

        self.run_workers(body)
        self.expect_stats(cache, misses=WORKERS * keys, expirations=keys)
        self.expect_len(cache, 0)
        self.expect_consistent_after_concurrency(cache, keys)

    def test_concurrent_gets_and_evicting_puts_keep_exact_hit_and_miss_counts(self):
        capacity, universe, per_worker = 8, 24, 150
        clock = YieldingClock()
        cache = self.new_cache(capacity, clock)
        hits = [0] * WORKERS
        misses = [0] * WORKERS

        def body(w):
            rng = random.Random(w)
            for i in range(per_worker):
                k = rng.randrange(universe)
                got = cache.get(k, self.MISSING)
                if got is self.MISSING:
                    misses[w] += 1
                    cache.put(k, f"v{k}", rng.randint(1, 50))
                else:
                    hits[w] += 1
                    if got != f"v{k}":
                        raise AssertionError(f"get({k}): expected 'v{k}', got {got!r}")
                if w == 0 and i % 25 == 0:
                    clock.advance(1)

        self.run_workers(body)
        got = cache.stats()
        self.assertEqual((got.hits, got.misses), (sum(hits), sum(misses)),
                         f"the workers saw {sum(hits)} hits and {sum(misses)} misses, "
                         f"the cache counted {got.hits} hits and {got.misses} misses")
        self.expect_consistent_after_concurrency(cache, capacity)


class CountingKey:
    """A key that counts how often the cache hashes or compares it."""

    calls = 0
    __slots__ = ("id", "__weakref__")

    def __init__(self, id_):
        self.id = id_

    def __hash__(self):
        CountingKey.calls += 1
        return hash(self.id)

    def __eq__(self, other):
        CountingKey.calls += 1
        return isinstance(other, CountingKey) and self.id == other.id

    def __repr__(self):
        return f"CountingKey({self.id})"


class ComplexityTest(CacheTestCase):
    def test_each_operation_hashes_or_compares_keys_a_bounded_number_of_times(self):
        n = 10_000
        cache = self.new_cache(n)
        stored = [CountingKey(i) for i in range(n)]
        for key in stored:
            cache.put(key, key.id, 0)
        rng = random.Random(7)
        # Lookups use equal but distinct key objects, as real callers do.
        lookups = [CountingKey(rng.randrange(n + n // 4)) for _ in range(2000)]
        limit = 10  # calls of __hash__/__eq__ per operation, on average
        CountingKey.calls = 0
        ops = 0
        for i, key in enumerate(lookups):
            ops += 1
            if cache.get(key) is None:
                ops += 1
                cache.put(key, key.id, 0)
            if i < 200:
                ops += 1
                cache.delete(CountingKey(rng.randrange(n)))
            if CountingKey.calls > limit * len(lookups):
                break  # already far over the budget: stop early
        per_op = CountingKey.calls / ops
        self.assertLessEqual(
            per_op, limit,
            f"with {n} entries each get/put/delete should hash or compare keys a few times, "
            f"got {per_op:.1f} calls of __hash__/__eq__ per operation: some operation scans the entries")

    @staticmethod
    def cost_per_op(n, warmup=100, chunk=100, max_ops=5000, min_seconds=0.01):
        """Seconds per step on a full cache of n entries. Each step puts a new
        key (which evicts the least recently used entry) and gets three keys
        put up to n/4 steps earlier (hits spread over the recency order).
        Measures for at least min_seconds or max_ops steps."""
        keys = [f"key-{i}" for i in range(n + warmup + max_ops)]
        rng = random.Random(n)
        back = iter([rng.randrange((n - 3) // 4 + 1) for _ in range(3 * (warmup + max_ops))])
        cache = LRUCache(n, FakeClock())
        for i in range(n):
            cache.put(keys[i], i, 0)
        pos = n

        def run(count):
            nonlocal pos
            for _ in range(count):
                cache.put(keys[pos], pos, 0)
                cache.get(keys[pos - next(back)])
                cache.get(keys[pos - next(back)])
                cache.get(keys[pos - next(back)])
                pos += 1

        run(warmup)
        done = 0
        start = time.perf_counter()
        while done < max_ops:
            run(chunk)
            done += chunk
            if time.perf_counter() - start >= min_seconds:
                break
        return (time.perf_counter() - start) / done

    def test_operations_stay_constant_time_as_the_cache_grows(self):
        limit = 10
        small = large = float("inf")
        for trial in range(5):
            small = min(small, self.cost_per_op(10))
            large = min(large, self.cost_per_op(10_000))
            if large <= limit * small:
                return
            if trial >= 1 and large > 4 * limit * small:
                break  # far over the limit twice: not noise
        self.fail(f"expected one put + three gets with 10,000 entries to cost at most {limit}x the cost with "
                  f"10 entries, got {large * 1e9:.0f} ns vs {small * 1e9:.0f} ns ({large / small:.1f}x): "
                  "some operation scans the entries")


class Blob:
    """A value object we can hold a weak reference to."""

    def __init__(self, name):
        self.name = name


class MemoryTest(CacheTestCase):
    def assert_released(self, ref, what):
        gc.collect()
        self.assertIsNone(ref(), f"expected the cache to release {what}, but it is still referenced")

    def test_removed_keys_and_values_are_released(self):
        cache = self.new_cache(2)
        k1, k2, k3, k4 = (CountingKey(i) for i in range(1, 5))
        v1, v2, v3, v4 = (Blob(i) for i in range(1, 5))
        refs = {name: weakref.ref(obj) for name, obj in
                [("k1", k1), ("v1", v1), ("k2", k2), ("v2", v2), ("k3", k3), ("v3", v3), ("v4", v4)]}
        cache.put(k1, v1, 0)
        cache.put(k2, v2, 10)
        cache.get(CountingKey(1))
        cache.put(k1, v4, 0)  # v1 replaced by v4
        del v1, v4
        self.assert_released(refs["v1"], "a value replaced by a later put")

        self.clock.advance(10)
        cache.get(CountingKey(2))  # k2 expired: removed
        del k2, v2
        self.assert_released(refs["k2"], "the key of an expired entry removed by get")
        self.assert_released(refs["v2"], "the value of an expired entry removed by get")

        cache.put(k3, v3, 0)
        cache.put(k4, "x", 0)  # evicts k1
        del k1
        self.assert_released(refs["k1"], "the key of an evicted entry")
        self.assert_released(refs["v4"], "the value of an evicted entry")

        self.assertTrue(cache.delete(CountingKey(3)), "delete of a live entry: expected True")
        del k3, v3
        self.assert_released(refs["k3"], "the key of a deleted entry")
        self.assert_released(refs["v3"], "the value of a deleted entry")

    def test_memory_stays_flat_under_a_long_run_of_hits(self):
        cache = self.new_cache(10)
        for i in range(10):
            cache.put(i, i, 0)
        for i in range(2000):  # warm up internal structures
            cache.get(i % 10)
        gc.collect()
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            for i in range(40_000):
                cache.get(i % 10)
            gc.collect()
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        grown = after - before
        self.assertLess(grown, 64 * 1024,
                        f"expected memory to stay flat while reading 10 cached keys 40,000 times, "
                        f"it grew by {grown // 1024} KiB: the cache keeps recency records it no longer needs")


if __name__ == "__main__":
    unittest.main()
