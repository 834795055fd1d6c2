import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.ref.WeakReference;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntConsumer;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class LruCacheTest {

    // ------------------------------------------------------------ helpers

    static final long START_MS = 1_000_000; // the fake clock starts at an arbitrary non-zero time

    /** A java.time.Clock the tests move forward by hand. */
    static class FakeClock extends Clock {
        private volatile long millis = START_MS;

        void advance(long ms) {
            millis += ms; // only ever called by the test thread
        }

        long elapsed() {
            return millis - START_MS;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis);
        }

        @Override
        public long millis() {
            return millis;
        }
    }

    /**
     * Lets other threads run whenever the cache reads the time, so a cache
     * that reads the clock in the middle of an unsynchronized operation is
     * interrupted exactly there.
     */
    static final class YieldingClock extends FakeClock {
        @Override
        public Instant instant() {
            Thread.yield();
            return super.instant();
        }

        @Override
        public long millis() {
            Thread.yield();
            return super.millis();
        }
    }

    private FakeClock clock;

    private LruCache<String, String> newCache(int capacity) {
        clock = new FakeClock();
        return new LruCache<>(capacity, clock);
    }

    private static Duration ms(long n) {
        return Duration.ofMillis(n);
    }

    private static <K, V> void expectHit(LruCache<K, V> cache, K key, V want) {
        Optional<V> got = cache.get(key);
        if (got.isEmpty()) {
            fail("get(" + key + "): expected a hit with value " + want + ", got a miss");
        }
        assertEquals(want, got.get(), () -> "get(" + key + "): wrong value");
    }

    private static <K, V> void expectMiss(LruCache<K, V> cache, K key) {
        Optional<V> got = cache.get(key);
        if (got.isPresent()) {
            fail("get(" + key + "): expected a miss, got a hit with value " + got.get());
        }
    }

    private static void expectSize(LruCache<?, ?> cache, int want) {
        assertEquals(want, cache.size(), "size(): number of stored entries");
    }

    private static void expectStats(LruCache<?, ?> cache, long hits, long misses, long evictions, long expirations) {
        assertEquals(new LruCache.Stats(hits, misses, evictions, expirations), cache.stats(), "stats()");
    }

    // ------------------------------------------------------------ basics

    @Test
    @DisplayName("get on an empty cache is a miss")
    void getOnAnEmptyCacheIsAMiss() {
        var cache = newCache(3);
        expectMiss(cache, "a");
        expectStats(cache, 0, 1, 0, 0);
        expectSize(cache, 0);
    }

    @Test
    @DisplayName("put then get returns the value")
    void putThenGetReturnsTheValue() {
        var cache = newCache(3);
        cache.put("a", "1", Duration.ZERO);
        expectSize(cache, 1);
        expectHit(cache, "a", "1");
        expectStats(cache, 1, 0, 0, 0);
    }

    @Test
    @DisplayName("put on an existing key replaces the value without growing")
    void putOnAnExistingKeyReplacesTheValue() {
        var cache = newCache(3);
        cache.put("a", "1", Duration.ZERO);
        cache.put("a", "2", Duration.ZERO);
        expectSize(cache, 1);
        expectHit(cache, "a", "2");
        expectStats(cache, 1, 0, 0, 0);
    }

    @Test
    @DisplayName("keys are isolated from each other")
    void keysAreIsolated() {
        var cache = newCache(5);
        cache.put("a", "1", Duration.ZERO);
        cache.put("b", "2", Duration.ZERO);
        cache.put("ab", "3", Duration.ZERO);
        cache.put("", "empty", Duration.ZERO);
        expectHit(cache, "a", "1");
        expectHit(cache, "b", "2");
        expectHit(cache, "ab", "3");
        expectHit(cache, "", "empty");
        assertTrue(cache.remove("a"), "remove(a) of a live entry: expected true");
        expectMiss(cache, "a");
        expectHit(cache, "b", "2");
        expectHit(cache, "ab", "3");
        expectSize(cache, 3);
    }

    @Test
    @DisplayName("keys are compared with equals, not identity")
    void keysAreComparedWithEquals() {
        LruCache<List<Integer>, String> cache = new LruCache<>(2, new FakeClock());
        cache.put(new ArrayList<>(List.of(1, 2)), "x", Duration.ZERO);
        expectHit(cache, List.of(1, 2), "x");
        assertTrue(cache.remove(new ArrayList<>(List.of(1, 2))), "remove of an equal key: expected true");
        expectSize(cache, 0);
    }

    @Test
    @DisplayName("a capacity below 1 is rejected")
    void capacityBelowOneIsRejected() {
        for (int capacity : new int[] {0, -1}) {
            assertThrows(IllegalArgumentException.class, () -> new LruCache<String, String>(capacity, new FakeClock()),
                    "new LruCache(" + capacity + ", clock): expected IllegalArgumentException");
        }
    }

    @Test
    @DisplayName("a negative TTL is rejected and changes nothing")
    void negativeTtlIsRejected() {
        var cache = newCache(1);
        cache.put("a", "1", Duration.ZERO);
        assertThrows(IllegalArgumentException.class, () -> cache.put("a", "2", ms(-1)),
                "put(a, 2, -1ms): expected IllegalArgumentException");
        assertThrows(IllegalArgumentException.class, () -> cache.put("b", "2", ms(-1)),
                "put(b, 2, -1ms): expected IllegalArgumentException");
        expectSize(cache, 1);
        expectHit(cache, "a", "1");
        expectMiss(cache, "b");
        expectStats(cache, 1, 1, 0, 0);
    }

    // ------------------------------------------------------------ recency

    @Test
    @DisplayName("inserting beyond capacity evicts the least recently used entry")
    void insertingBeyondCapacityEvictsTheLeastRecentlyUsed() {
        var cache = newCache(3);
        for (String k : new String[] {"a", "b", "c", "d"}) {
            cache.put(k, k.toUpperCase(), Duration.ZERO);
        }
        expectSize(cache, 3);
        expectStats(cache, 0, 0, 1, 0);
        expectMiss(cache, "a");
        expectHit(cache, "b", "B");
        expectHit(cache, "c", "C");
        expectHit(cache, "d", "D");
    }

    @Test
    @DisplayName("get makes an entry the most recently used")
    void getMakesAnEntryTheMostRecentlyUsed() {
        var cache = newCache(3);
        for (String k : new String[] {"a", "b", "c"}) {
            cache.put(k, k, Duration.ZERO);
        }
        expectHit(cache, "a", "a"); // order (LRU first): b c a
        cache.put("d", "d", Duration.ZERO); // evicts b
        expectMiss(cache, "b");
        expectHit(cache, "a", "a");
        expectHit(cache, "c", "c");
        expectHit(cache, "d", "d");
        expectStats(cache, 4, 1, 1, 0);
    }

    @Test
    @DisplayName("put on an existing key makes it the most recently used")
    void putOnAnExistingKeyMakesItTheMostRecentlyUsed() {
        var cache = newCache(3);
        for (String k : new String[] {"a", "b", "c"}) {
            cache.put(k, k, Duration.ZERO);
        }
        cache.put("a", "a2", Duration.ZERO); // order: b c a
        cache.put("d", "d", Duration.ZERO); // evicts b
        expectMiss(cache, "b");
        expectHit(cache, "a", "a2");
        expectStats(cache, 1, 1, 1, 0);
    }

    @Test
    @DisplayName("a miss does not change the recency order")
    void aMissDoesNotChangeTheRecencyOrder() {
        var cache = newCache(2);
        cache.put("a", "1", Duration.ZERO);
        cache.put("b", "2", Duration.ZERO);
        expectMiss(cache, "zzz");
        cache.put("c", "3", Duration.ZERO); // still evicts a
        expectMiss(cache, "a");
        expectHit(cache, "b", "2");
        expectHit(cache, "c", "3");
        expectStats(cache, 2, 2, 1, 0);
    }

    @Test
    @DisplayName("capacity 1 keeps only the newest entry")
    void capacityOneKeepsOnlyTheNewestEntry() {
        var cache = newCache(1);
        for (int i = 0; i < 5; i++) {
            cache.put("k" + i, "v" + i, Duration.ZERO);
            expectSize(cache, 1);
        }
        expectHit(cache, "k4", "v4");
        expectMiss(cache, "k3");
        expectStats(cache, 1, 1, 4, 0);
    }

    @Test
    @DisplayName("eviction order follows recency over a longer sequence")
    void evictionOrderFollowsRecencyOverALongerSequence() {
        var cache = newCache(4);
        for (String k : new String[] {"a", "b", "c", "d"}) {
            cache.put(k, k, Duration.ZERO);
        }
        // order (LRU first): a b c d
        expectHit(cache, "b", "b"); // a c d b
        expectHit(cache, "a", "a"); // c d b a
        cache.put("c", "c2", Duration.ZERO); // d b a c
        cache.put("e", "e", Duration.ZERO); // evicts d -> b a c e
        cache.put("f", "f", Duration.ZERO); // evicts b -> a c e f
        expectHit(cache, "a", "a"); // c e f a
        cache.put("g", "g", Duration.ZERO); // evicts c -> e f a g
        for (String k : new String[] {"b", "c", "d"}) {
            expectMiss(cache, k);
        }
        for (String k : new String[] {"e", "f", "a", "g"}) {
            expectHit(cache, k, k);
        }
        expectStats(cache, 7, 3, 3, 0);
    }

    // ------------------------------------------------------------ expiry

    @Test
    @DisplayName("an entry is live 1 ms before its expiry and expired exactly at it")
    void entryIsLiveOneMsBeforeExpiryAndExpiredExactlyAtIt() {
        var cache = newCache(3);
        cache.put("a", "1", ms(100)); // expires at start + 100
        clock.advance(99);
        expectHit(cache, "a", "1");
        clock.advance(1); // now == expiresAt: expired
        expectMiss(cache, "a");
        expectSize(cache, 0);
        expectStats(cache, 1, 1, 0, 1);
    }

    @Test
    @DisplayName("a TTL of 1 ms expires on the next millisecond")
    void ttlOfOneMsExpiresOnTheNextMillisecond() {
        var cache = newCache(3);
        cache.put("a", "1", ms(1));
        expectHit(cache, "a", "1");
        clock.advance(1);
        expectMiss(cache, "a");
        expectStats(cache, 1, 1, 0, 1);
    }

    @Test
    @DisplayName("a zero TTL never expires")
    void zeroTtlNeverExpires() {
        var cache = newCache(3);
        cache.put("a", "1", Duration.ZERO);
        clock.advance(1_000_000_000_000L);
        expectHit(cache, "a", "1");
        expectStats(cache, 1, 0, 0, 0);
    }

    @Test
    @DisplayName("expiry is counted from the put, not from cache creation")
    void expiryIsCountedFromThePut() {
        var cache = newCache(3);
        clock.advance(500);
        cache.put("a", "1", ms(100));
        clock.advance(99);
        expectHit(cache, "a", "1");
        clock.advance(1);
        expectMiss(cache, "a");
    }

    @Test
    @DisplayName("get does not extend the TTL")
    void getDoesNotExtendTheTtl() {
        var cache = newCache(3);
        cache.put("a", "1", ms(100));
        for (int i = 0; i < 9; i++) {
            clock.advance(10);
            expectHit(cache, "a", "1");
        }
        clock.advance(10);
        expectMiss(cache, "a");
        expectStats(cache, 9, 1, 0, 1);
    }

    @Test
    @DisplayName("put on an existing key resets its TTL")
    void putOnAnExistingKeyResetsItsTtl() {
        var cache = newCache(3);
        cache.put("a", "1", ms(100));
        clock.advance(50);
        cache.put("a", "2", ms(100)); // now expires at +150
        clock.advance(99);
        expectHit(cache, "a", "2");
        clock.advance(1);
        expectMiss(cache, "a");

        cache.put("b", "1", ms(10));
        cache.put("b", "2", Duration.ZERO); // TTL 0 removes the expiry
        clock.advance(1_000_000);
        expectHit(cache, "b", "2");

        cache.put("c", "1", Duration.ZERO);
        cache.put("c", "2", ms(5)); // and a TTL can be added later
        clock.advance(5);
        expectMiss(cache, "c");
        expectStats(cache, 2, 2, 0, 2);
    }

    @Test
    @DisplayName("each entry has its own TTL")
    void eachEntryHasItsOwnTtl() {
        var cache = newCache(3);
        cache.put("short", "s", ms(50));
        cache.put("long", "l", ms(200));
        cache.put("forever", "f", Duration.ZERO);
        clock.advance(100);
        expectMiss(cache, "short");
        expectHit(cache, "long", "l");
        expectHit(cache, "forever", "f");
        clock.advance(100);
        expectMiss(cache, "long");
        expectHit(cache, "forever", "f");
        expectStats(cache, 3, 2, 0, 2);
    }

    @Test
    @DisplayName("an expired get counts as a miss and an expiration, not an eviction")
    void anExpiredGetCountsAsAMissAndAnExpiration() {
        var cache = newCache(3);
        cache.put("a", "1", ms(10));
        clock.advance(10);
        expectMiss(cache, "a");
        expectStats(cache, 0, 1, 0, 1);
        expectMiss(cache, "a"); // already removed: a plain miss
        expectStats(cache, 0, 2, 0, 1);
    }

    @Test
    @DisplayName("expired entries stay stored until something touches them")
    void expiredEntriesStayStoredUntilTouched() {
        var cache = newCache(3);
        cache.put("a", "1", ms(10));
        cache.put("b", "2", ms(10));
        clock.advance(50);
        expectSize(cache, 2);
        expectStats(cache, 0, 0, 0, 0);
        expectMiss(cache, "a");
        expectSize(cache, 1);
        expectStats(cache, 0, 1, 0, 1);
    }

    @Test
    @DisplayName("a full cache removes an expired least recently used entry as an expiration")
    void fullCacheRemovesAnExpiredLruEntryAsAnExpiration() {
        var cache = newCache(2);
        cache.put("x", "1", ms(10));
        cache.put("y", "2", Duration.ZERO);
        clock.advance(50);
        expectSize(cache, 2);
        cache.put("z", "3", Duration.ZERO); // x is the LRU and expired
        expectStats(cache, 0, 0, 0, 1);
        expectSize(cache, 2);
        expectHit(cache, "y", "2");
        expectHit(cache, "z", "3");
    }

    @Test
    @DisplayName("only the least recently used entry is evicted, even if another has expired")
    void onlyTheLruEntryIsEvictedEvenIfAnotherHasExpired() {
        var cache = newCache(2);
        cache.put("a", "1", Duration.ZERO);
        cache.put("b", "2", ms(10));
        clock.advance(50);
        cache.put("c", "3", Duration.ZERO); // LRU is a (live): evicted; b stays stored although expired
        expectStats(cache, 0, 0, 1, 0);
        expectSize(cache, 2);
        expectMiss(cache, "b");
        expectStats(cache, 0, 1, 1, 1);
        expectMiss(cache, "a");
        expectHit(cache, "c", "3");
    }

    @Test
    @DisplayName("put over an expired key counts one expiration and stores a fresh entry")
    void putOverAnExpiredKeyCountsOneExpiration() {
        var cache = newCache(2);
        cache.put("a", "1", ms(10));
        cache.put("b", "2", Duration.ZERO);
        clock.advance(20);
        cache.put("a", "new", ms(10)); // expired -> replaced, now most recently used
        expectStats(cache, 0, 0, 0, 1);
        expectSize(cache, 2);
        cache.put("c", "3", Duration.ZERO); // evicts b, not a
        expectStats(cache, 0, 0, 1, 1);
        expectHit(cache, "a", "new");
        expectMiss(cache, "b");
        clock.advance(10);
        expectMiss(cache, "a");
        expectStats(cache, 1, 2, 1, 2);
    }

    // ------------------------------------------------------------ remove

    @Test
    @DisplayName("remove deletes a live entry and frees its slot")
    void removeDeletesALiveEntryAndFreesItsSlot() {
        var cache = newCache(2);
        cache.put("a", "1", Duration.ZERO);
        cache.put("b", "2", Duration.ZERO);
        assertTrue(cache.remove("a"), "remove(a) of a live entry: expected true");
        expectSize(cache, 1);
        cache.put("c", "3", Duration.ZERO); // there is room: nothing evicted
        expectStats(cache, 0, 0, 0, 0);
        expectHit(cache, "b", "2");
        expectHit(cache, "c", "3");
        expectMiss(cache, "a");
    }

    @Test
    @DisplayName("remove of an absent or expired key returns false")
    void removeOfAnAbsentOrExpiredKeyReturnsFalse() {
        var cache = newCache(3);
        assertFalse(cache.remove("nope"), "remove(nope) of an absent key: expected false");
        cache.put("a", "1", ms(10));
        clock.advance(10);
        assertFalse(cache.remove("a"), "remove(a) of an expired entry: expected false");
        expectSize(cache, 0);
        expectStats(cache, 0, 0, 0, 1);
        assertFalse(cache.remove("a"), "second remove(a): expected false");
        expectStats(cache, 0, 0, 0, 1);
    }

    // ------------------------------------------------------------ stats

    @Test
    @DisplayName("stats start at zero and puts never count as hits or misses")
    void statsStartAtZeroAndPutsNeverCount() {
        var cache = newCache(2);
        expectStats(cache, 0, 0, 0, 0);
        cache.put("a", "1", Duration.ZERO);
        cache.put("a", "2", Duration.ZERO);
        cache.put("b", "1", Duration.ZERO);
        expectStats(cache, 0, 0, 0, 0);
    }

    @Test
    @DisplayName("stats are a snapshot that later operations do not change")
    void statsAreASnapshot() {
        var cache = newCache(2);
        cache.put("a", "1", Duration.ZERO);
        cache.get("a");
        LruCache.Stats snapshot = cache.stats();
        cache.get("a");
        cache.get("zzz");
        assertEquals(new LruCache.Stats(1, 0, 0, 0), snapshot, "an earlier stats() snapshot");
        expectStats(cache, 2, 1, 0, 0);
    }

    @Test
    @DisplayName("the README examples work as described")
    void readmeExamples() {
        var cache = newCache(2);
        cache.put("a", "1", ms(100));
        cache.put("b", "2", Duration.ZERO);
        expectHit(cache, "a", "1");
        cache.put("c", "3", Duration.ZERO);
        expectStats(cache, 1, 0, 1, 0);
        expectMiss(cache, "b");
        clock.advance(99);
        expectHit(cache, "a", "1");
        clock.advance(1);
        expectMiss(cache, "a");
        expectSize(cache, 1);
        expectStats(cache, 2, 2, 1, 1);

        cache = newCache(2);
        cache.put("x", "1", ms(10));
        cache.put("y", "2", Duration.ZERO);
        clock.advance(50);
        expectSize(cache, 2);
        cache.put("z", "3", Duration.ZERO);
        expectStats(cache, 0, 0, 0, 1);
    }

    // ------------------------------------------------------------ model check

    /** A deliberately simple (slow) cache that follows the README rules. */
    static final class Model {
        record Entry(String key, String value, long expiresAt) {} // expiresAt 0: never

        final int capacity;
        final List<Entry> entries = new ArrayList<>(); // least recently used first
        long hits, misses, evictions, expirations;

        Model(int capacity) {
            this.capacity = capacity;
        }

        static boolean expired(Entry e, long now) {
            return e.expiresAt != 0 && now >= e.expiresAt;
        }

        int find(String key) {
            for (int i = 0; i < entries.size(); i++) {
                if (entries.get(i).key.equals(key)) {
                    return i;
                }
            }
            return -1;
        }

        Optional<String> get(String key, long now) {
            int i = find(key);
            if (i < 0) {
                misses++;
                return Optional.empty();
            }
            Entry e = entries.remove(i);
            if (expired(e, now)) {
                misses++;
                expirations++;
                return Optional.empty();
            }
            hits++;
            entries.add(e);
            return Optional.of(e.value);
        }

        void put(String key, String value, long ttl, long now) {
            int i = find(key);
            if (i >= 0) {
                if (expired(entries.get(i), now)) {
                    expirations++;
                }
                entries.remove(i);
            } else if (entries.size() == capacity) {
                if (expired(entries.get(0), now)) {
                    expirations++;
                } else {
                    evictions++;
                }
                entries.remove(0);
            }
            entries.add(new Entry(key, value, ttl > 0 ? now + ttl : 0));
        }

        boolean remove(String key, long now) {
            int i = find(key);
            if (i < 0) {
                return false;
            }
            Entry e = entries.remove(i);
            if (expired(e, now)) {
                expirations++;
                return false;
            }
            return true;
        }

        LruCache.Stats stats() {
            return new LruCache.Stats(hits, misses, evictions, expirations);
        }
    }

    @Test
    @DisplayName("random operations match a simple reference model")
    void randomOperationsMatchAReferenceModel() {
        Random rng = new Random(20240611);
        for (int capacity : new int[] {1, 2, 4, 7}) {
            var cache = newCache(capacity);
            var model = new Model(capacity);
            List<String> history = new ArrayList<>();
            for (int op = 0; op < 500; op++) {
                String key = "k" + rng.nextInt(capacity + 3);
                long now = clock.elapsed();
                int r = rng.nextInt(100);
                Object want;
                Object got;
                String what;
                if (r < 35) {
                    what = "get(" + key + ")";
                    history.add("t=" + now + " " + what);
                    want = model.get(key, now);
                    got = cache.get(key);
                } else if (r < 70) {
                    long ttl = rng.nextInt(10) < 3 ? 0 : 1 + rng.nextInt(25);
                    String value = "v" + op;
                    what = "put(" + key + ", " + value + ", " + ttl + "ms)";
                    history.add("t=" + now + " " + what);
                    model.put(key, value, ttl, now);
                    cache.put(key, value, ms(ttl));
                    want = got = null;
                } else if (r < 80) {
                    what = "remove(" + key + ")";
                    history.add("t=" + now + " " + what);
                    want = model.remove(key, now);
                    got = cache.remove(key);
                } else {
                    long step = rng.nextInt(12);
                    what = "advance clock by " + step + "ms";
                    history.add(what);
                    clock.advance(step);
                    want = got = null;
                }
                String context = "capacity " + capacity + ", after these operations (most recent last):\n  "
                        + String.join("\n  ", history.subList(Math.max(0, history.size() - 12), history.size()))
                        + "\n";
                assertEquals(want, got, context + what);
                assertEquals(model.entries.size(), cache.size(), context + "size()");
                assertEquals(model.stats(), cache.stats(), context + "stats()");
            }
        }
    }

    // ------------------------------------------------------------ concurrency

    static final int WORKERS = 8;

    /** Runs body(worker) on WORKERS threads started together; fails on the first exception. */
    private static void runWorkers(IntConsumer body) throws InterruptedException {
        ExecutorService pool = Executors.newFixedThreadPool(WORKERS, r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        try {
            CountDownLatch ready = new CountDownLatch(WORKERS);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                final int worker = w;
                futures.add(pool.submit(() -> {
                    ready.countDown();
                    start.await();
                    body.accept(worker);
                    return null;
                }));
            }
            ready.await();
            start.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            for (int w = 0; w < WORKERS; w++) {
                try {
                    futures.get(w).get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (ExecutionException e) {
                    fail("worker " + w + " of " + WORKERS + " sharing one cache threw " + e.getCause()
                            + " (is every method synchronized?)", e.getCause());
                } catch (TimeoutException e) {
                    fail("the workers sharing one cache did not finish within 2 s "
                            + "(a corrupted linked list can loop forever; is every method synchronized?)");
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Filling the cache with fresh keys must remove every older entry
     * exactly once and keep all the fresh ones.
     */
    private static void expectConsistentAfterConcurrency(LruCache<String, String> cache, int capacity) {
        LruCache.Stats before = cache.stats();
        int stored = cache.size();
        if (stored > capacity) {
            fail("size(): expected at most " + capacity + " entries after concurrent use, got " + stored);
        }
        for (int i = 0; i < capacity; i++) {
            cache.put("fresh-" + i, "f", Duration.ZERO);
        }
        LruCache.Stats after = cache.stats();
        long removed = (after.evictions() - before.evictions()) + (after.expirations() - before.expirations());
        assertEquals(stored, removed, "after concurrent use the cache held " + stored + " entries; putting "
                + capacity + " fresh keys should remove exactly those (evictions + expirations)");
        expectSize(cache, capacity);
        for (int i = 0; i < capacity; i++) {
            expectHit(cache, "fresh-" + i, "f");
        }
    }

    @Test
    @DisplayName("concurrent gets count every hit")
    void concurrentGetsCountEveryHit() throws InterruptedException {
        final int keys = 16;
        final int perWorker = 5_000;
        var cache = newCache(keys);
        for (int k = 0; k < keys; k++) {
            cache.put("k" + k, "v" + k, Duration.ZERO);
        }
        runWorkers(w -> {
            for (int i = 0; i < perWorker; i++) {
                int k = (i + w) % keys;
                Optional<String> got = cache.get("k" + k);
                if (!got.equals(Optional.of("v" + k))) {
                    throw new AssertionError("get(k" + k + "): expected v" + k + ", got " + got);
                }
            }
        });
        expectStats(cache, (long) WORKERS * perWorker, 0, 0, 0);
        expectConsistentAfterConcurrency(cache, keys);
    }

    @Test
    @DisplayName("concurrent puts never exceed the capacity and count every eviction")
    void concurrentPutsNeverExceedCapacity() throws InterruptedException {
        final int capacity = 100;
        final int perWorker = 2_000;
        var cache = newCache(capacity);
        runWorkers(w -> {
            for (int i = 0; i < perWorker; i++) {
                cache.put("w" + w + "-" + i, "v", Duration.ZERO);
            }
        });
        expectSize(cache, capacity);
        expectStats(cache, 0, 0, (long) WORKERS * perWorker - capacity, 0);
        int live = 0;
        for (int w = 0; w < WORKERS; w++) {
            for (int i = 0; i < perWorker; i++) {
                if (cache.get("w" + w + "-" + i).isPresent()) {
                    live++;
                }
            }
        }
        assertEquals(capacity, live, "number of the " + WORKERS * perWorker + " keys still retrievable");
    }

    @Test
    @DisplayName("concurrent workers on separate keys see only their own values and exact counts")
    void concurrentWorkersOnSeparateKeys() throws InterruptedException {
        final int keysPerWorker = 50;
        final int rounds = 15;
        var cache = new LruCache<String, String>(WORKERS * keysPerWorker, new FakeClock());
        runWorkers(w -> {
            for (int r = 0; r < rounds; r++) {
                String want = "w" + w + "-r" + r;
                for (int k = 0; k < keysPerWorker; k++) {
                    cache.put("w" + w + "-k" + k, want, Duration.ofHours(1));
                }
                for (int k = 0; k < keysPerWorker; k++) {
                    Optional<String> got = cache.get("w" + w + "-k" + k);
                    if (!got.equals(Optional.of(want))) {
                        throw new AssertionError("get(w" + w + "-k" + k + "): expected " + want + ", got " + got);
                    }
                }
                for (int k = 0; k < keysPerWorker; k += 5) {
                    if (!cache.remove("w" + w + "-k" + k)) {
                        throw new AssertionError("remove(w" + w + "-k" + k + ") of a live entry: expected true");
                    }
                    Optional<String> got = cache.get("w" + w + "-k" + k);
                    if (got.isPresent()) {
                        throw new AssertionError("get(w" + w + "-k" + k + ") after remove: expected a miss, got " + got);
                    }
                }
            }
        });
        expectStats(cache, (long) WORKERS * rounds * keysPerWorker, (long) WORKERS * rounds * keysPerWorker / 5, 0, 0);
        expectSize(cache, WORKERS * keysPerWorker * 4 / 5);
    }

    @Test
    @DisplayName("concurrent readers count each expired entry exactly once")
    void concurrentReadersCountEachExpiredEntryExactlyOnce() throws InterruptedException {
        final int keys = 64;
        var yielding = new YieldingClock();
        var cache = new LruCache<String, String>(keys, yielding);
        for (int k = 0; k < keys; k++) {
            cache.put("k" + k, "v", ms(10));
        }
        yielding.advance(10);
        runWorkers(w -> {
            for (int k = 0; k < keys; k++) { // every worker reads the same keys in the same order
                Optional<String> got = cache.get("k" + k);
                if (got.isPresent()) {
                    throw new AssertionError("get(k" + k + "): expected a miss for an expired key, got " + got);
                }
            }
        });
        expectStats(cache, 0, (long) WORKERS * keys, 0, keys);
        expectSize(cache, 0);
        expectConsistentAfterConcurrency(cache, keys);
    }

    @Test
    @DisplayName("concurrent gets and evicting puts keep exact hit and miss counts")
    void concurrentGetsAndEvictingPuts() throws InterruptedException {
        final int capacity = 8;
        final int universe = 24;
        final int perWorker = 400;
        var yielding = new YieldingClock();
        var cache = new LruCache<String, String>(capacity, yielding);
        long[] hits = new long[WORKERS];
        long[] misses = new long[WORKERS];
        runWorkers(w -> {
            Random rng = new Random(w);
            for (int i = 0; i < perWorker; i++) {
                String k = "k" + rng.nextInt(universe);
                Optional<String> got = cache.get(k);
                if (got.isPresent()) {
                    hits[w]++;
                    if (!got.get().equals("v-" + k)) {
                        throw new AssertionError("get(" + k + "): expected v-" + k + ", got " + got.get());
                    }
                } else {
                    misses[w]++;
                    cache.put(k, "v-" + k, ms(1 + rng.nextInt(50)));
                }
                if (w == 0 && i % 100 == 0) {
                    yielding.advance(1);
                }
            }
        });
        long wantHits = 0;
        long wantMisses = 0;
        for (int w = 0; w < WORKERS; w++) {
            wantHits += hits[w];
            wantMisses += misses[w];
        }
        LruCache.Stats got = cache.stats();
        assertEquals(wantHits + " hits, " + wantMisses + " misses", got.hits() + " hits, " + got.misses() + " misses",
                "the cache's counters compared with what the workers saw");
        expectConsistentAfterConcurrency(cache, capacity);
    }

    // ------------------------------------------------------------ complexity and memory

    /** A key that counts how often the cache calls its hashCode or equals. */
    static final class CountingKey {
        static long calls;
        final int id;

        CountingKey(int id) {
            this.id = id;
        }

        @Override
        public int hashCode() {
            calls++;
            return Integer.hashCode(id) * 0x9E3779B1;
        }

        @Override
        public boolean equals(Object o) {
            calls++;
            return o instanceof CountingKey other && other.id == id;
        }

        @Override
        public String toString() {
            return "CountingKey(" + id + ")";
        }
    }

    @Test
    @DisplayName("each operation calls hashCode/equals a bounded number of times")
    void eachOperationTouchesABoundedNumberOfKeys() {
        final int n = 10_000;
        final int limit = 10; // calls of hashCode/equals per operation, on average
        LruCache<CountingKey, Integer> cache = new LruCache<>(n, new FakeClock());
        for (int i = 0; i < n; i++) {
            cache.put(new CountingKey(i), i, Duration.ZERO);
        }
        Random rng = new Random(7);
        final int lookups = 2_000;
        CountingKey.calls = 0;
        long ops = 0;
        for (int i = 0; i < lookups; i++) {
            // Lookups use equal but distinct key objects, as real callers do.
            CountingKey key = new CountingKey(rng.nextInt(n + n / 4));
            ops++;
            if (cache.get(key).isEmpty()) {
                ops++;
                cache.put(key, key.id, Duration.ZERO);
            }
            if (i < 200) {
                ops++;
                cache.remove(new CountingKey(rng.nextInt(n)));
            }
            if (CountingKey.calls > (long) limit * lookups) {
                break; // already far over the budget: stop early
            }
        }
        double perOp = (double) CountingKey.calls / ops;
        if (perOp > limit) {
            fail(String.format("with %d entries each get/put/remove should call hashCode/equals a few times, "
                    + "got %.1f calls per operation: some operation scans the entries", n, perOp));
        }
    }

    /**
     * Nanoseconds per step on a full cache of n entries. Each step puts a new
     * key (which evicts the least recently used entry) and gets three keys put
     * up to n/4 steps earlier (hits spread over the recency order). Measures
     * for at least 5 ms or 20,000 steps.
     */
    private static double costPerOp(int n) {
        final int warmup = 200;
        final int chunk = 200;
        final int maxOps = 20_000;
        String[] keys = new String[n + warmup + maxOps];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = "key-" + i;
        }
        Random rng = new Random(n);
        int[] back = new int[3 * (warmup + maxOps)];
        for (int i = 0; i < back.length; i++) {
            back[i] = rng.nextInt((n - 3) / 4 + 1);
        }
        LruCache<String, String> cache = new LruCache<>(n, new FakeClock());
        for (int i = 0; i < n; i++) {
            cache.put(keys[i], "v", Duration.ZERO);
        }
        int[] pos = {n, 0};
        IntConsumer run = count -> {
            for (int i = 0; i < count; i++) {
                int p = pos[0]++;
                cache.put(keys[p], "v", Duration.ZERO);
                for (int g = 0; g < 3; g++) {
                    cache.get(keys[p - back[pos[1]++]]);
                }
            }
        };
        run.accept(warmup);
        int done = 0;
        long start = System.nanoTime();
        while (done < maxOps) {
            run.accept(chunk);
            done += chunk;
            if (System.nanoTime() - start >= 5_000_000L) {
                break;
            }
        }
        return (double) (System.nanoTime() - start) / done;
    }

    @Test
    @DisplayName("operations stay constant-time as the cache grows (10,000 vs 10 entries)")
    void operationsStayConstantTime() {
        final double limit = 10;
        costPerOp(10); // let the JIT compile the cache first
        costPerOp(1_000);
        double small = Double.POSITIVE_INFINITY;
        double large = Double.POSITIVE_INFINITY;
        for (int trial = 0; trial < 5; trial++) {
            small = Math.min(small, costPerOp(10));
            large = Math.min(large, costPerOp(10_000));
            if (large <= limit * small) {
                return;
            }
            if (trial >= 1 && large > 4 * limit * small) {
                break; // far over the limit twice: not noise
            }
        }
        fail(String.format("expected one put + three gets with 10,000 entries to cost at most %.0fx the cost with "
                + "10 entries, got %.0f ns vs %.0f ns (%.1fx): some operation scans the entries",
                limit, large, small, large / small));
    }

    private static void expectCollected(WeakReference<?> ref, String what) {
        for (int i = 0; i < 20 && ref.get() != null; i++) {
            System.gc();
        }
        if (ref.get() != null) {
            fail("expected the cache to release " + what + ", but it is still reachable");
        }
    }

    /** A value object we can hold a weak reference to. */
    record Blob(int id) {}

    @Test
    @DisplayName("removed keys and values are released")
    void removedKeysAndValuesAreReleased() {
        FakeClock fake = new FakeClock();
        LruCache<CountingKey, Blob> cache = new LruCache<>(2, fake);
        CountingKey k1 = new CountingKey(1);
        CountingKey k2 = new CountingKey(2);
        CountingKey k3 = new CountingKey(3);
        Blob v1 = new Blob(1);
        Blob v2 = new Blob(2);
        Blob v3 = new Blob(3);
        Blob v4 = new Blob(4);
        var refK1 = new WeakReference<>(k1);
        var refK2 = new WeakReference<>(k2);
        var refK3 = new WeakReference<>(k3);
        var refV1 = new WeakReference<>(v1);
        var refV2 = new WeakReference<>(v2);
        var refV3 = new WeakReference<>(v3);
        var refV4 = new WeakReference<>(v4);

        cache.put(k1, v1, Duration.ZERO);
        cache.put(k2, v2, ms(10));
        cache.put(new CountingKey(1), v4, Duration.ZERO); // v1 replaced by v4
        v1 = null;
        v4 = null;
        expectCollected(refV1, "a value replaced by a later put");

        fake.advance(10);
        cache.get(new CountingKey(2)); // expired: removed
        k2 = null;
        v2 = null;
        expectCollected(refK2, "the key of an expired entry removed by get");
        expectCollected(refV2, "the value of an expired entry removed by get");

        cache.put(k3, v3, Duration.ZERO);
        cache.put(new CountingKey(4), new Blob(5), Duration.ZERO); // evicts k1
        k1 = null;
        expectCollected(refK1, "the key of an evicted entry");
        expectCollected(refV4, "the value of an evicted entry");

        assertTrue(cache.remove(new CountingKey(3)), "remove of a live entry: expected true");
        k3 = null;
        v3 = null;
        expectCollected(refK3, "the key of a removed entry");
        expectCollected(refV3, "the value of a removed entry");
    }
}
