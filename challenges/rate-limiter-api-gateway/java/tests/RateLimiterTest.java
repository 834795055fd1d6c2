import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("Rate limiter for an API gateway (default: 5 requests per 1000 ms)")
class RateLimiterTest {

    /** A clock the tests move by hand. */
    static final class FakeClock implements RateLimiter.Clock {
        private volatile long now;

        @Override
        public long nowMillis() {
            return now;
        }

        void set(long t) {
            now = t;
        }

        void advance(long d) {
            now = now + d; // only ever called from the test thread
        }
    }

    final FakeClock clock = new FakeClock();
    RateLimiter limiter = new RateLimiter(clock, 5, 1000);

    void use(int limit, long window) {
        limiter = new RateLimiter(clock, limit, window);
    }

    static String verdict(boolean admitted) {
        return admitted ? "admitted (true)" : "rejected (false)";
    }

    /** At time {@code at}, calls allow(client) once per expected verdict. */
    void expect(long at, String client, boolean... want) {
        clock.set(at);
        for (int i = 0; i < want.length; i++) {
            boolean got = limiter.allow(client);
            if (got != want[i]) {
                fail(String.format("allow(\"%s\") call #%d at t=%d ms: expected %s, got %s",
                        client, i + 1, at, verdict(want[i]), got));
            }
        }
    }

    void expectTracked(long at, int want) {
        clock.set(at);
        int got = limiter.trackedClients();
        assertEquals(want, got, () -> String.format("trackedClients() at t=%d ms: expected %d, got %d", at, want, got));
    }

    void setLimit(long at, String client, int limit, long window) {
        clock.set(at);
        limiter.setClientLimit(client, limit, window);
    }

    static boolean[] repeat(int n, boolean v) {
        boolean[] out = new boolean[n];
        java.util.Arrays.fill(out, v);
        return out;
    }

    static boolean[] thenReject(int admitted) {
        boolean[] out = repeat(admitted + 1, true);
        out[admitted] = false;
        return out;
    }

    @Nested
    @DisplayName("sliding window")
    class SlidingWindow {
        @Test
        @DisplayName("admits requests up to the limit, then rejects")
        void admitsRequestsUpToTheLimitThenRejects() {
            for (long t = 0; t < 5; t++) {
                expect(t, "a", true);
            }
            expect(5, "a", false);
            expect(999, "a", false);
        }

        @Test
        @DisplayName("several requests in the same millisecond each count")
        void severalRequestsInTheSameMillisecondEachCount() {
            expect(100, "a", thenReject(5));
            expect(1099, "a", false);
            expect(1100, "a", thenReject(5));
        }

        @Test
        @DisplayName("a request exactly one window later is admitted")
        void aRequestExactlyOneWindowLaterIsAdmitted() {
            use(1, 1000);
            expect(0, "a", true);
            expect(1000, "a", true);
            expect(2000, "a", true);
        }

        @Test
        @DisplayName("a request one millisecond before the window ends is rejected")
        void aRequestOneMillisecondBeforeTheWindowEndsIsRejected() {
            use(1, 1000);
            expect(0, "a", true);
            expect(999, "a", false);
            expect(1000, "a", true);
            expect(1999, "a", false);
        }

        @Test
        @DisplayName("the window slides instead of resetting at fixed boundaries")
        void theWindowSlidesInsteadOfResettingAtFixedBoundaries() {
            expect(900, "a", repeat(5, true));
            expect(1000, "a", false);
            expect(1500, "a", false);
            expect(1899, "a", false);
            expect(1900, "a", thenReject(5));
        }

        @Test
        @DisplayName("old requests leave the window one at a time")
        void oldRequestsLeaveTheWindowOneAtATime() {
            use(3, 1000);
            expect(0, "a", true);
            expect(400, "a", true);
            expect(800, "a", true);
            expect(999, "a", false);
            expect(1000, "a", true);
            expect(1001, "a", false);
            expect(1399, "a", false);
            expect(1400, "a", true);
            expect(1799, "a", false);
            expect(1800, "a", true, false);
        }

        @Test
        @DisplayName("rejected requests do not count against the limit")
        void rejectedRequestsDoNotCountAgainstTheLimit() {
            use(2, 1000);
            expect(0, "a", true, true);
            expect(500, "a", false, false, false);
            expect(1000, "a", true, true, false);
            expect(1999, "a", false);
            expect(2000, "a", true);
        }
    }

    @Nested
    @DisplayName("per-client limits")
    class PerClientLimits {
        @Test
        @DisplayName("clients are limited independently")
        void clientsAreLimitedIndependently() {
            expect(0, "a", thenReject(5));
            expect(0, "b", thenReject(5));
            expect(10, "a", false);
            expect(10, "c", true);
        }

        @Test
        @DisplayName("an override changes the limit for that client only")
        void anOverrideChangesTheLimitForThatClientOnly() {
            setLimit(0, "premium", 10, 1000);
            expect(0, "premium", thenReject(10));
            expect(0, "basic", thenReject(5));
            expect(1000, "premium", thenReject(10));
        }

        @Test
        @DisplayName("an override can use a longer window")
        void anOverrideCanUseALongerWindow() {
            setLimit(0, "batch", 2, 60_000);
            expect(0, "batch", true, true, false);
            expect(0, "web", thenReject(5));
            expect(1000, "web", thenReject(5));
            expect(1000, "batch", false);
            expect(59_999, "batch", false);
            expect(60_000, "batch", true, true, false);
        }

        @Test
        @DisplayName("changing an override starts the client in a fresh window")
        void changingAnOverrideStartsTheClientInAFreshWindow() {
            expect(0, "x", thenReject(5));
            expect(0, "y", thenReject(5));
            setLimit(10, "x", 3, 1000);
            expect(10, "x", true, true, true, false);
            expect(10, "y", false); // other clients keep their history
            setLimit(20, "x", 3, 1000);
            expect(20, "x", true, true, true, false);
            expect(1019, "x", false);
            expect(1020, "x", true, true, true, false);
        }

        @Test
        @DisplayName("an override still applies after the client was idle")
        void anOverrideStillAppliesAfterTheClientWasIdle() {
            setLimit(0, "vip", 2, 1000);
            expect(0, "vip", true, true, false);
            expectTracked(5000, 0);
            expect(5000, "vip", true, true, false);
        }

        @Test
        @DisplayName("invalid limits and windows are rejected with IllegalArgumentException")
        void invalidLimitsAndWindowsAreRejected() {
            long[][] bad = {{0, 1000}, {-1, 1000}, {5, 0}, {5, -1000}};
            for (long[] c : bad) {
                assertThrows(IllegalArgumentException.class, () -> new RateLimiter(clock, (int) c[0], c[1]),
                        "new RateLimiter(clock, " + c[0] + ", " + c[1] + ") should throw IllegalArgumentException");
            }
            assertThrows(IllegalArgumentException.class, () -> limiter.setClientLimit("a", 0, 1000),
                    "setClientLimit(\"a\", 0, 1000) should throw IllegalArgumentException");
            assertThrows(IllegalArgumentException.class, () -> limiter.setClientLimit("a", 3, 0),
                    "setClientLimit(\"a\", 3, 0) should throw IllegalArgumentException");
            // the rejected overrides changed nothing: "a" still has the default 5 per 1000 ms
            expect(0, "a", thenReject(5));
        }
    }

    @Nested
    @DisplayName("releasing idle clients")
    class IdleClients {
        @Test
        @DisplayName("no clients are tracked before any request")
        void noClientsAreTrackedBeforeAnyRequest() {
            expectTracked(0, 0);
            setLimit(0, "a", 3, 1000);
            expectTracked(0, 0);
        }

        @Test
        @DisplayName("each client with requests in its window is counted once")
        void eachClientWithRequestsInItsWindowIsCountedOnce() {
            expect(0, "a", true, true, true);
            expect(0, "b", true);
            expect(0, "c", true, true, true, true, true, false, false);
            expectTracked(0, 3);
        }

        @Test
        @DisplayName("a client is released exactly when its window becomes empty")
        void aClientIsReleasedExactlyWhenItsWindowBecomesEmpty() {
            expect(0, "a", true);
            expect(500, "b", true);
            expectTracked(999, 2);
            expectTracked(1000, 1);
            expectTracked(1499, 1);
            expectTracked(1500, 0);
        }

        @Test
        @DisplayName("a rejected request does not keep a client tracked")
        void aRejectedRequestDoesNotKeepAClientTracked() {
            expect(0, "c", repeat(5, true));
            expect(600, "c", false, false);
            expectTracked(999, 1);
            expectTracked(1000, 0);
        }

        @Test
        @DisplayName("clients with different windows are released independently")
        void clientsWithDifferentWindowsAreReleasedIndependently() {
            setLimit(0, "long", 1, 10_000);
            expect(0, "long", true);
            expect(100, "short", true);
            expectTracked(1099, 2);
            expectTracked(1100, 1);
            expect(2000, "short", true);
            expectTracked(2999, 2);
            expectTracked(3000, 1);
            expectTracked(9999, 1);
            expectTracked(10_000, 0);
        }

        @Test
        @DisplayName("a returning client gets its full limit again")
        void aReturningClientGetsItsFullLimitAgain() {
            expect(0, "a", thenReject(5));
            expectTracked(1000, 0);
            expect(5000, "a", thenReject(5));
            expectTracked(5000, 1);
        }

        @Test
        @DisplayName("changing an override releases the client's history")
        void changingAnOverrideReleasesTheClientsHistory() {
            expect(0, "a", true);
            expectTracked(0, 1);
            setLimit(0, "a", 2, 1000);
            expectTracked(0, 0);
        }

        @Test
        @DisplayName("ten thousand idle clients are all released")
        void tenThousandIdleClientsAreAllReleased() {
            for (int i = 0; i < 10_000; i++) {
                expect(i / 10, "client-" + i, true); // ten clients per millisecond, t = 0 .. 999
            }
            expectTracked(999, 10_000);
            expectTracked(1000, 9990);
            expectTracked(1500, 4990);
            expectTracked(1998, 10);
            expectTracked(1999, 0);
            expect(2000, "client-0", true);
            expectTracked(2000, 1);
        }
    }

    @Nested
    @DisplayName("concurrency")
    class Concurrency {
        /** At most 16 worker threads: the run allows 64 processes and the JVM itself uses about 20. */
        static final int MAX_THREADS = 16;

        /** Starts {@code threads} threads together, waits for all, and rethrows the first failure. */
        void runThreads(int threads, IntConsumer body) throws Exception {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                CountDownLatch ready = new CountDownLatch(threads);
                CountDownLatch go = new CountDownLatch(1);
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int index = t;
                    futures.add(pool.submit(() -> {
                        ready.countDown();
                        go.await();
                        body.accept(index);
                        return null;
                    }));
                }
                ready.await();
                go.countDown();
                for (Future<?> f : futures) {
                    try {
                        f.get(20, TimeUnit.SECONDS);
                    } catch (ExecutionException e) {
                        fail("expected no exceptions in concurrent callers, got " + e.getCause(), e.getCause());
                    }
                }
            } finally {
                pool.shutdownNow();
                pool.awaitTermination(5, TimeUnit.SECONDS); // never more than one pool of threads alive
            }
        }

        /**
         * A barrier for threads that stay busy: a waiting thread spins, then yields its core, but never sleeps,
         * so the threads keep their cores and start each phase together.
         */
        static final class SpinBarrier {
            private final int parties;
            private final AtomicInteger arrived = new AtomicInteger();
            private final AtomicInteger generation = new AtomicInteger();

            SpinBarrier(int parties) {
                this.parties = parties;
            }

            /** Waits for all parties; the last one to arrive runs {@code last} before any of them continues. */
            void await(Runnable last) {
                int gen = generation.get();
                if (arrived.incrementAndGet() == parties) {
                    arrived.set(0);
                    try {
                        last.run();
                    } finally {
                        generation.incrementAndGet();
                    }
                    return;
                }
                long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                for (int spins = 0; generation.get() == gen; spins++) {
                    if (spins < 1000) {
                        Thread.onSpinWait();
                    } else {
                        Thread.yield();
                        if (System.nanoTime() > giveUp) {
                            throw new IllegalStateException("the concurrent callers did not all finish their requests");
                        }
                    }
                }
            }
        }

        @Test
        @DisplayName("concurrent requests for one client never exceed the limit")
        void concurrentRequestsForOneClientNeverExceedTheLimit() throws Exception {
            RateLimiter shared = new RateLimiter(new FakeClock(), 199_000, 1000);
            AtomicInteger admitted = new AtomicInteger();
            runThreads(8, t -> {
                for (int i = 0; i < 25_000; i++) {
                    if (shared.allow("hot")) {
                        admitted.incrementAndGet();
                    }
                }
            });
            assertEquals(199_000, admitted.get(),
                    "8 threads x 25000 calls with limit 199000: expected exactly 199000 admitted (no lost updates)");
            assertEquals(false, shared.allow("hot"), "expected the limit to be used up after the concurrent burst");
        }

        @Test
        @DisplayName("concurrent requests that slide one client's window lose no updates, round after round")
        void concurrentRequestsThatSlideOneClientsWindowLoseNoUpdates() throws Exception {
            int limit = 2000;
            long window = 1000;
            long gap = window / 4;
            int callsPerThread = 10;
            int burst = MAX_THREADS * callsPerThread; // always fits in the free slots
            int free = limit - 1 - burst;
            int minRounds = 5;
            int maxRounds = 1000;
            long stopAfter = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
            // Round r, with t = r * (window + gap):
            //   at t:                all threads send callsPerThread requests together. All but 1 request in the
            //                        window have just left it, so the first callers drop limit - 1 old requests
            //                        while the others add theirs: all must be admitted.
            //   at t + gap:          all threads send requests until each gets a rejection: exactly `free` more fit.
            //   at t + gap + w/2:    one thread sends 1 request, the one still in the window at the next round.
            FakeClock c = new FakeClock();
            RateLimiter shared = new RateLimiter(c, limit, window);
            c.set(gap); // one thread plays the end of "round 0": a fill of limit - 1 requests, then 1 more
            for (int i = 0; i < limit - 1; i++) {
                assertEquals(true, shared.allow("hot"), "allow(\"hot\") #" + (i + 1) + " at t=" + c.nowMillis()
                        + " ms, one thread, limit " + limit + ": expected admitted");
            }
            c.set(gap + window / 2);
            assertEquals(true, shared.allow("hot"), "allow(\"hot\") at t=" + c.nowMillis() + " ms, one thread, limit "
                    + limit + ": expected admitted");
            SpinBarrier barrier = new SpinBarrier(MAX_THREADS);
            AtomicInteger admitted = new AtomicInteger();
            AtomicReference<String> failure = new AtomicReference<>();
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            String[] thrownWhere = {null};
            int[] round = {1};
            boolean[] stop = {false};
            Runnable checkBurst = () -> {
                long t = round[0] * (window + gap);
                if (thrown.get() == null && admitted.get() != burst) {
                    failure.compareAndSet(null, String.format("round %d: %d threads x %d simultaneous requests at t=%d "
                            + "ms, just after %d requests left the window (1 is still in it; limit %d per %d ms): "
                            + "expected all %d admitted, got %d", round[0], MAX_THREADS, callsPerThread, t, limit - 1,
                            limit, window, burst, admitted.get()));
                }
                stop[0] = failure.get() != null || thrown.get() != null;
                admitted.set(0);
                c.set(t + gap);
            };
            Runnable checkFill = () -> {
                long t = round[0] * (window + gap);
                if (thrown.get() == null && admitted.get() != free) {
                    failure.compareAndSet(null, String.format("round %d: %d threads sending requests at t=%d ms until "
                            + "each gets a rejection (%d requests in the window, limit %d per %d ms): expected exactly "
                            + "%d admitted in total, got %d", round[0], MAX_THREADS, t + gap, burst + 1, limit, window,
                            free, admitted.get()));
                }
                c.set(t + gap + window / 2);
                try {
                    if (failure.get() == null && thrown.get() == null && !shared.allow("hot")) {
                        failure.set(String.format("allow(\"hot\") from one thread at t=%d ms: expected admitted (%d "
                                + "requests in the window, limit %d), got rejected", c.nowMillis(), limit - 1, limit));
                    }
                } catch (RuntimeException | Error e) {
                    if (thrown.compareAndSet(null, e)) {
                        thrownWhere[0] = "round " + round[0] + ", one thread at t=" + c.nowMillis() + " ms";
                    }
                }
                round[0]++;
                stop[0] = failure.get() != null || thrown.get() != null || round[0] > maxRounds
                        || (round[0] > minRounds && System.nanoTime() > stopAfter);
                admitted.set(0);
                c.set(round[0] * (window + gap));
            };
            c.set(window + gap); // round 1
            runThreads(MAX_THREADS, t -> {
                while (true) {
                    int mine = 0;
                    try {
                        for (int k = 0; k < callsPerThread; k++) {
                            if (shared.allow("hot")) {
                                mine++;
                            }
                        }
                    } catch (RuntimeException | Error e) {
                        if (thrown.compareAndSet(null, e)) {
                            thrownWhere[0] = "round " + round[0] + ", simultaneous requests";
                        }
                    }
                    admitted.addAndGet(mine);
                    barrier.await(checkBurst);
                    if (stop[0]) {
                        return;
                    }
                    mine = 0;
                    try {
                        while (mine <= limit && shared.allow("hot")) {
                            mine++;
                        }
                    } catch (RuntimeException | Error e) {
                        if (thrown.compareAndSet(null, e)) {
                            thrownWhere[0] = "round " + round[0] + ", requests until rejected";
                        }
                    }
                    admitted.addAndGet(mine);
                    barrier.await(checkFill);
                    if (stop[0]) {
                        return;
                    }
                }
            });
            if (thrown.get() != null) {
                fail("expected the limiter to throw no exceptions, got " + thrown.get() + " (" + thrownWhere[0] + ")",
                        thrown.get());
            }
            if (failure.get() != null) {
                fail(failure.get());
            }
        }

        @Test
        @DisplayName("concurrent first requests from many new clients lose no updates")
        void concurrentFirstRequestsFromManyNewClientsLoseNoUpdates() throws Exception {
            RateLimiter shared = new RateLimiter(new FakeClock(), 1, 1000);
            int clients = 10_000;
            String[] ids = new String[clients];
            for (int i = 0; i < clients; i++) {
                ids[i] = "client-" + i;
            }
            AtomicInteger[] admitted = new AtomicInteger[clients];
            for (int i = 0; i < clients; i++) {
                admitted[i] = new AtomicInteger();
            }
            runThreads(8, t -> {
                for (int i = 0; i < clients; i++) { // every thread sends one request for each client, in the same order
                    if (shared.allow(ids[i])) {
                        admitted[i].incrementAndGet();
                    }
                }
            });
            int wrong = 0;
            String example = "";
            for (int i = 0; i < clients; i++) {
                if (admitted[i].get() != 1) {
                    if (wrong++ == 0) {
                        example = ids[i] + " was admitted " + admitted[i].get() + " times";
                    }
                }
            }
            if (wrong > 0) {
                fail("8 threads x 1 request for each of 10000 clients (limit 1): expected every client admitted "
                        + "exactly once, but " + wrong + " were not (e.g. " + example + ")");
            }
            assertEquals(clients, shared.trackedClients(), "expected 10000 tracked clients");
        }
    }

    @Nested
    @DisplayName("complexity (cost per call at size 10,000 vs size 10, measured in the same test)")
    class Complexity {
        static final int SMALL = 10;
        static final int LARGE = 10_000;
        static final int MAX_RATIO = 10;
        static final int CALLS = 2000;

        double costPerCall(IntConsumer run) {
            long start = System.nanoTime();
            run.accept(CALLS);
            return (System.nanoTime() - start) / (double) CALLS;
        }

        void assertCostDoesNotGrow(String what, IntFunction<IntConsumer> makeRun) {
            IntConsumer small = makeRun.apply(SMALL);
            IntConsumer large = makeRun.apply(LARGE);
            for (int i = 0; i < 5; i++) { // let the JIT compile both paths first
                small.accept(CALLS);
            }
            large.accept(CALLS);
            double smallCost = Double.MAX_VALUE;
            for (int i = 0; i < 7; i++) {
                smallCost = Math.min(smallCost, costPerCall(small));
            }
            double largeCost = Double.MAX_VALUE;
            for (int i = 0; i < 5 && largeCost > MAX_RATIO * smallCost; i++) {
                largeCost = Math.min(largeCost, costPerCall(large));
            }
            if (largeCost > MAX_RATIO * smallCost) {
                fail(String.format("%s: expected the cost per call at size %d to be at most %dx the cost at size %d, "
                                + "but it was %.0fx (%.0f ns vs %.0f ns) - is something scanned on every call?",
                        what, LARGE, MAX_RATIO, SMALL, largeCost / smallCost, largeCost, smallCost));
            }
        }

        @Test
        @DisplayName("allow() cost does not grow with the number of clients")
        void allowCostDoesNotGrowWithTheNumberOfClients() {
            assertCostDoesNotGrow("allow() with many active clients", n -> {
                FakeClock c = new FakeClock();
                RateLimiter l = new RateLimiter(c, 1_000_000, 1_000_000_000L);
                String[] ids = new String[n];
                for (int i = 0; i < n; i++) {
                    ids[i] = "client-" + i;
                    l.allow(ids[i]);
                }
                int[] next = {0};
                return calls -> {
                    for (int i = 0; i < calls; i++) {
                        c.advance(1);
                        l.allow(ids[next[0]++ % n]);
                    }
                };
            });
        }

        @Test
        @DisplayName("allow() cost does not grow with the requests in the window")
        void allowCostDoesNotGrowWithRequestsInTheWindow() {
            assertCostDoesNotGrow("allow() with many requests in the client's window", n -> {
                FakeClock c = new FakeClock();
                RateLimiter l = new RateLimiter(c, n, n); // one request per ms keeps exactly n requests in the window
                for (int t = 0; t < n; t++) {
                    c.set(t);
                    l.allow("hot");
                }
                return calls -> {
                    for (int i = 0; i < calls; i++) {
                        c.advance(1);
                        if (!l.allow("hot")) {
                            fail(String.format("expected a request at t=%d to be admitted: the one at t=%d just left "
                                    + "the window (limit %d per %d ms)", c.nowMillis(), c.nowMillis() - n, n, n));
                        }
                    }
                };
            });
        }

        @Test
        @DisplayName("trackedClients() cost does not grow with the number of clients")
        void trackedClientsCostDoesNotGrowWithTheNumberOfClients() {
            assertCostDoesNotGrow("trackedClients() with many active clients", n -> {
                FakeClock c = new FakeClock();
                RateLimiter l = new RateLimiter(c, 5, 1_000_000_000L);
                for (int i = 0; i < n; i++) {
                    l.allow("client-" + i);
                }
                return calls -> {
                    for (int i = 0; i < calls; i++) {
                        c.advance(1);
                        l.trackedClients();
                    }
                };
            });
        }
    }

    @Nested
    @DisplayName("memory")
    class Memory {
        @Test
        @DisplayName("idle clients are released while the limiter keeps serving")
        void idleClientsAreReleasedWhileTheLimiterKeepsServing() throws InterruptedException {
            int clients = 5000;
            FakeClock c = new FakeClock();
            RateLimiter l = new RateLimiter(c, 5, 1000);
            // Weak references to the client ids of rounds 1-4: once the limiter drops an idle client,
            // nothing references its id any more and the garbage collector clears the reference.
            List<WeakReference<String>> earlierIds = new ArrayList<>();
            for (int r = 1; r <= 5; r++) {
                c.set(r * 10_000L); // every earlier round is idle by now
                for (int i = 0; i < clients; i++) {
                    String id = new String("round-" + r + "-client-" + i);
                    if (r < 5) {
                        earlierIds.add(new WeakReference<>(id));
                    }
                    l.allow(id);
                }
            }
            long stillHeld = Long.MAX_VALUE;
            for (int i = 0; i < 5 && stillHeld > 0; i++) {
                System.gc();
                Thread.sleep(2);
                stillHeld = earlierIds.stream().filter(ref -> ref.get() != null).count();
            }
            if (stillHeld > clients / 2) {
                fail(String.format("after 5 rounds of %d clients that each go idle, expected the %d idle clients of rounds 1-4 "
                        + "to be released (at most %d still held), but the limiter still holds %d of them",
                        clients, earlierIds.size(), clients / 2, stillHeld));
            }
            assertEquals(clients, l.trackedClients(), "expected only the last round's clients to be tracked");
        }
    }
}
