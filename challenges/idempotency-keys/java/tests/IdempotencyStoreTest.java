import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class IdempotencyStoreTest {

    static final long TTL = 60_000; // one minute, in milliseconds
    static final long START = 1_000_000; // the fake clock's first reading
    static final long WATCHDOG_MS = 2_000; // only ever reached when the store under test is broken

    static final class FakeClock implements IdempotencyStore.Clock {
        private final AtomicLong now = new AtomicLong(START);

        @Override
        public long nowMillis() {
            return now.get();
        }

        void advance(long millis) {
            now.addAndGet(millis);
        }

        String describe() {
            return "t=+" + (now.get() - START) + "ms";
        }
    }

    /** A handler that counts its executions and answers "charge-n". */
    static final class Charges implements Callable<String> {
        final AtomicInteger count = new AtomicInteger();

        @Override
        public String call() {
            return "charge-" + count.incrementAndGet();
        }
    }

    static final class PaymentException extends Exception {
        PaymentException(String message) {
            super(message);
        }
    }

    /** What one call to execute produced: a response or an exception. */
    record Outcome(String response, Throwable error) {
        @Override
        public String toString() {
            return error == null ? "response \"" + response + "\"" : error.getClass().getSimpleName() + ": " + error.getMessage();
        }
    }

    static Outcome outcomeOf(Callable<String> call) {
        try {
            return new Outcome(call.call(), null);
        } catch (Throwable t) {
            return new Outcome(null, t);
        }
    }

    /** Runs a call in a daemon thread; get() waits for it with the watchdog. */
    static final class Async {
        final Thread thread;
        volatile Outcome outcome;

        Async(Callable<String> call) {
            thread = new Thread(() -> outcome = outcomeOf(call));
            thread.setDaemon(true);
            thread.start();
        }

        /** The outcome, or null if the call did not return within the watchdog. */
        Outcome get() throws InterruptedException {
            thread.join(WATCHDOG_MS);
            return thread.isAlive() ? null : outcome;
        }
    }

    static Outcome within(Callable<String> call) throws InterruptedException {
        return new Async(call).get();
    }

    static void spinUntil(BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WATCHDOG_MS);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.yield();
        }
    }

    static final ExecutorService POOL = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable);
        thread.setDaemon(true);
        return thread;
    });

    static IdempotencyStore newStore(IdempotencyStore.Clock clock) {
        return new IdempotencyStore(clock, TTL);
    }

    static Callable<String> mustNotRun(String why) {
        return () -> {
            fail("the handler ran, but it must not: " + why);
            return "handler-ran";
        };
    }

    static void expectResponse(IdempotencyStore store, String client, String key, String payload,
                               Callable<String> handler, String want, String why) {
        Outcome got = outcomeOf(() -> store.execute(client, key, payload, handler));
        if (got.error() != null || !want.equals(got.response())) {
            fail(why + ": execute(\"" + client + "\", \"" + key + "\", \"" + payload + "\") expected response \""
                    + want + "\", got " + got);
        }
    }

    static void expectConflict(IdempotencyStore store, String client, String key, String payload, String why) {
        Outcome got = outcomeOf(() -> store.execute(client, key, payload, mustNotRun(why)));
        if (!(got.error() instanceof IdempotencyStore.ConflictException)) {
            fail(why + ": execute(\"" + client + "\", \"" + key + "\", \"" + payload
                    + "\") expected IdempotencyStore.ConflictException, got " + got);
        }
    }

    static void expectCount(Charges charges, int want, String why) {
        assertEquals(want, charges.count.get(), () -> why + ": expected the handler to have run " + want
                + " time(s), but it ran " + charges.count.get() + " time(s)");
    }

    static void expectSize(IdempotencyStore store, int want, String why) throws InterruptedException {
        Outcome got = within(() -> String.valueOf(store.size()));
        if (got == null) {
            fail(why + ": expected size() == " + want + ", but size() was still blocked after 2s");
        }
        if (got.error() != null) {
            fail(why + ": expected size() == " + want + ", but size() threw " + got, got.error());
        }
        assertEquals(String.valueOf(want), got.response(), () -> why + ": expected size() == " + want + ", got " + got.response());
    }

    @Nested
    @DisplayName("Requests and replays")
    class Basics {
        @Test
        @DisplayName("a non-positive TTL is rejected with IllegalArgumentException")
        void nonPositiveTtlIsRejected() {
            for (long bad : new long[] {0, -1}) {
                assertThrows(IllegalArgumentException.class, () -> new IdempotencyStore(new FakeClock(), bad),
                        "new IdempotencyStore(clock, " + bad + ") should throw IllegalArgumentException");
            }
        }

        @Test
        @DisplayName("the first request runs the handler and returns its response")
        void firstRequestRunsTheHandler() {
            IdempotencyStore store = newStore(new FakeClock());
            Charges charges = new Charges();
            expectResponse(store, "client-1", "key-1", "{\"amount\":100}", charges, "charge-1", "first request");
            expectCount(charges, 1, "after the first request");
        }

        @Test
        @DisplayName("a retry with the same key and payload replays the stored response without running the handler")
        void retryReplaysStoredResponse() {
            IdempotencyStore store = newStore(new FakeClock());
            Charges charges = new Charges();
            expectResponse(store, "client-1", "key-1", "{\"amount\":100}", charges, "charge-1", "first request");
            for (int i = 1; i <= 3; i++) {
                expectResponse(store, "client-1", "key-1", "{\"amount\":100}", charges, "charge-1", "retry " + i);
            }
            expectCount(charges, 1, "after three retries of the same request");
        }

        @Test
        @DisplayName("the same key with a different payload is a conflict")
        void sameKeyDifferentPayloadIsConflict() {
            IdempotencyStore store = newStore(new FakeClock());
            Charges charges = new Charges();
            expectResponse(store, "client-1", "key-1", "{\"amount\":100}", charges, "charge-1", "first request");
            // Same length as the first payload, only one digit differs.
            expectConflict(store, "client-1", "key-1", "{\"amount\":900}", "same key, different payload");
            expectCount(charges, 1, "after a conflicting request");
        }

        @Test
        @DisplayName("a conflict does not replace the stored response")
        void conflictDoesNotReplaceStoredResponse() {
            IdempotencyStore store = newStore(new FakeClock());
            Charges charges = new Charges();
            expectResponse(store, "client-1", "key-1", "amount=100", charges, "charge-1", "first request");
            expectConflict(store, "client-1", "key-1", "amount=999", "same key, different payload");
            expectResponse(store, "client-1", "key-1", "amount=100", charges, "charge-1", "retry with the original payload after a conflict");
            expectConflict(store, "client-1", "key-1", "amount=999", "the conflicting payload again");
            expectCount(charges, 1, "after conflicts and a replay");
        }

        @Test
        @DisplayName("different keys are executed independently")
        void differentKeysAreIndependent() throws Exception {
            IdempotencyStore store = newStore(new FakeClock());
            Charges charges = new Charges();
            expectResponse(store, "client-1", "key-A", "amount=100", charges, "charge-1", "key-A first request");
            expectResponse(store, "client-1", "key-B", "amount=100", charges, "charge-2", "key-B first request (same payload, other key)");
            expectResponse(store, "client-1", "key-C", "amount=555", charges, "charge-3", "key-C first request");
            expectResponse(store, "client-1", "key-A", "amount=100", charges, "charge-1", "key-A replay");
            expectResponse(store, "client-1", "key-B", "amount=100", charges, "charge-2", "key-B replay");
            expectCount(charges, 3, "three distinct keys");
            expectSize(store, 3, "three distinct keys stored");
        }

        @Test
        @DisplayName("the same key from different clients is executed independently")
        void sameKeyFromDifferentClientsIsIndependent() throws Exception {
            IdempotencyStore store = newStore(new FakeClock());
            Charges charges = new Charges();
            expectResponse(store, "alice", "order-1", "amount=100", charges, "charge-1", "alice's first request");
            // Bob may use the same key string with another payload: it is his own key.
            expectResponse(store, "bob", "order-1", "amount=700", charges, "charge-2", "bob's first request with the same key");
            expectResponse(store, "alice", "order-1", "amount=100", charges, "charge-1", "alice's replay");
            expectResponse(store, "bob", "order-1", "amount=700", charges, "charge-2", "bob's replay");
            expectConflict(store, "alice", "order-1", "amount=700", "alice reusing her key with bob's payload");
            expectCount(charges, 2, "two clients, one key each");
            expectSize(store, 2, "two clients, one key each");
        }

        @Test
        @DisplayName("client and key are never confused, even when they contain separators")
        void clientAndKeyAreNeverConfused() throws Exception {
            for (String sep : new String[] {":", "|", "/", "-", "_", ".", "#", ",", ";", " ", "\0", "\n", "::", "\t"}) {
                IdempotencyStore store = newStore(new FakeClock());
                Charges charges = new Charges();
                String[][] pairs = {{"a" + sep + "b", "c"}, {"a", "b" + sep + "c"}, {"a" + sep, "b" + sep + "c"}, {"a", sep + "b" + sep + "c"}};
                for (int i = 0; i < pairs.length; i++) {
                    expectResponse(store, pairs[i][0], pairs[i][1], "p" + (i + 1), charges, "charge-" + (i + 1),
                            "client \"" + pairs[i][0] + "\" key \"" + pairs[i][1] + "\" is its own (client, key) pair");
                }
                expectSize(store, 4, "four distinct (client, key) pairs built with separator \"" + sep + "\"");
            }
        }
    }

    @Nested
    @DisplayName("Failing handlers")
    class Failures {
        @Test
        @DisplayName("a failed handler stores nothing, so the next retry runs again")
        void failedHandlerStoresNothing() throws Exception {
            IdempotencyStore store = newStore(new FakeClock());
            AtomicInteger runs = new AtomicInteger();
            Callable<String> handler = () -> {
                int n = runs.incrementAndGet();
                if (n == 1) {
                    throw new PaymentException("payment provider unavailable");
                }
                return "charge-" + n;
            };
            assertThrows(PaymentException.class, () -> store.execute("client-1", "key-1", "amount=100", handler),
                    "the first attempt should throw the handler's exception");
            expectSize(store, 0, "after a failed attempt nothing is stored");
            expectResponse(store, "client-1", "key-1", "amount=100", handler, "charge-2", "the retry after a failure runs the handler again");
            expectResponse(store, "client-1", "key-1", "amount=100", handler, "charge-2", "once a retry succeeded its response is replayed");
            assertEquals(2, runs.get(), () -> "expected the handler to run twice (failed, then succeeded), ran " + runs.get() + " times");
        }

        @Test
        @DisplayName("the handler's exception reaches the caller unchanged")
        void handlerExceptionIsRethrownUnchanged() {
            IdempotencyStore store = newStore(new FakeClock());
            PaymentException boom = new PaymentException("card declined");
            Outcome got = outcomeOf(() -> store.execute("client-1", "key-1", "amount=100", () -> {
                throw boom;
            }));
            assertSame(boom, got.error(), () -> "expected exactly the exception the handler threw (not wrapped), got " + got);
        }

        @Test
        @DisplayName("a failed attempt does not reserve its payload")
        void failedAttemptDoesNotReservePayload() {
            IdempotencyStore store = newStore(new FakeClock());
            assertThrows(PaymentException.class, () -> store.execute("client-1", "key-1", "amount=100", () -> {
                throw new PaymentException("timeout");
            }));
            expectResponse(store, "client-1", "key-1", "amount=200", new Charges(), "charge-1",
                    "after a failed attempt the key is free, so a different payload runs (no conflict)");
            expectConflict(store, "client-1", "key-1", "amount=100", "now the key is bound to the successful payload");
        }
    }

    @Nested
    @DisplayName("Expiry")
    class Expiry {
        @Test
        @DisplayName("a stored response is replayed until one millisecond before the TTL")
        void replayedUntilJustBeforeTtl() {
            FakeClock clock = new FakeClock();
            IdempotencyStore store = newStore(clock);
            Charges charges = new Charges();
            expectResponse(store, "client-1", "key-1", "amount=100", charges, "charge-1", "first request at t=+0");
            clock.advance(TTL - 1);
            expectResponse(store, "client-1", "key-1", "amount=100", charges, "charge-1", "replay at " + clock.describe() + " (TTL is 60000ms)");
            expectConflict(store, "client-1", "key-1", "amount=999", "different payload at " + clock.describe());
            expectCount(charges, 1, "replays before the TTL");
        }

        @Test
        @DisplayName("at exactly the TTL the key has expired and the handler runs again")
        void expiresAtExactlyTtl() {
            FakeClock clock = new FakeClock();
            IdempotencyStore store = newStore(clock);
            Charges charges = new Charges();
            expectResponse(store, "client-1", "key-1", "amount=100", charges, "charge-1", "first request at t=+0");
            clock.advance(TTL);
            expectResponse(store, "client-1", "key-1", "amount=100", charges, "charge-2", "request at " + clock.describe() + " after the 60000ms TTL");
            expectResponse(store, "client-1", "key-1", "amount=100", charges, "charge-2", "the new response is stored again");
            expectCount(charges, 2, "one run before and one after expiry");
        }

        @Test
        @DisplayName("an expired key can be reused with a different payload")
        void expiredKeyCanBeReused() {
            FakeClock clock = new FakeClock();
            IdempotencyStore store = newStore(clock);
            Charges charges = new Charges();
            expectResponse(store, "client-1", "key-1", "amount=100", charges, "charge-1", "first request");
            clock.advance(TTL + 5_000);
            expectResponse(store, "client-1", "key-1", "amount=999", charges, "charge-2", "different payload after expiry is a new request, not a conflict");
            expectConflict(store, "client-1", "key-1", "amount=100", "the old payload now conflicts with the new one");
        }

        @Test
        @DisplayName("the TTL is measured from when the response was stored, not from when the request arrived")
        void ttlStartsWhenResponseIsStored() {
            FakeClock clock = new FakeClock();
            IdempotencyStore store = newStore(clock);
            AtomicInteger runs = new AtomicInteger();
            Callable<String> slow = () -> {
                int n = runs.incrementAndGet();
                clock.advance(10_000); // the handler takes 10 seconds
                return "charge-" + n;
            };
            expectResponse(store, "client-1", "key-1", "amount=100", slow, "charge-1", "request started at t=+0, stored at t=+10000ms");
            clock.advance(TTL - 10_000); // now START + TTL, but only 50s after the response was stored
            expectResponse(store, "client-1", "key-1", "amount=100", slow, "charge-1", "replay at " + clock.describe() + ": 50s after the response was stored");
            clock.advance(10_000 - 1);
            expectResponse(store, "client-1", "key-1", "amount=100", slow, "charge-1", "replay at " + clock.describe() + ": 1ms before stored time + TTL");
            clock.advance(1);
            expectResponse(store, "client-1", "key-1", "amount=100", slow, "charge-2", "request at " + clock.describe() + ": exactly stored time + TTL, so expired");
        }

        @Test
        @DisplayName("each key expires on its own schedule")
        void eachKeyExpiresOnItsOwnSchedule() throws Exception {
            FakeClock clock = new FakeClock();
            IdempotencyStore store = newStore(clock);
            Charges charges = new Charges();
            expectResponse(store, "client-1", "early", "p", charges, "charge-1", "key 'early' stored at t=+0");
            clock.advance(30_000);
            expectResponse(store, "client-1", "late", "p", charges, "charge-2", "key 'late' stored at t=+30000ms");
            clock.advance(30_000);
            expectSize(store, 1, "at t=+60000ms only 'late' is held");
            expectResponse(store, "client-1", "late", "p", charges, "charge-2", "key 'late' at t=+60000ms is still stored");
            expectResponse(store, "client-1", "early", "p", charges, "charge-3", "key 'early' at t=+60000ms has expired");
            clock.advance(30_000);
            expectResponse(store, "client-1", "late", "p", charges, "charge-4", "key 'late' at t=+90000ms has expired");
            expectResponse(store, "client-1", "early", "p", charges, "charge-3", "key 'early' (stored again at t=+60000ms) is still stored at t=+90000ms");
        }

        @Test
        @DisplayName("a key in flight never expires")
        void keyInFlightNeverExpires() throws Exception {
            FakeClock clock = new FakeClock();
            IdempotencyStore store = newStore(clock);
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Async first = new Async(() -> store.execute("client-1", "key-1", "amount=100", () -> {
                started.countDown();
                release.await(2 * WATCHDOG_MS, TimeUnit.MILLISECONDS);
                return "charge-1";
            }));
            try {
                assertTrue(started.await(WATCHDOG_MS, TimeUnit.MILLISECONDS), "expected the handler of the first request to start, it did not");
                clock.advance(2 * TTL);
                expectSize(store, 1, "a key in flight for twice the TTL is still held");
                Outcome got = within(() -> store.execute("client-1", "key-1", "amount=999", mustNotRun("the key is in flight")));
                if (got == null) {
                    fail("a conflicting request for a key in flight must fail at once, but it was still blocked after 2s");
                }
                assertTrue(got.error() instanceof IdempotencyStore.ConflictException,
                        () -> "a different payload for a key in flight for twice the TTL: expected ConflictException, got " + got);
            } finally {
                release.countDown();
            }
            Outcome firstOutcome = first.get();
            assertEquals(new Outcome("charge-1", null), firstOutcome, "the first request should return \"charge-1\"");
            // Stored at t=+120000ms: kept until t=+180000ms.
            clock.advance(TTL - 1);
            expectResponse(store, "client-1", "key-1", "amount=100", mustNotRun("response stored 59999ms ago"), "charge-1",
                    "replay at " + clock.describe() + ", 1ms before the response (stored when the handler finished at t=+120000ms) expires");
        }
    }

    @Nested
    @DisplayName("Size and memory")
    class SizeAndMemory {
        @Test
        @DisplayName("size() counts keys in flight and stored responses")
        void sizeCountsInFlightAndStored() throws Exception {
            IdempotencyStore store = newStore(new FakeClock());
            expectSize(store, 0, "a new store");
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Async first = new Async(() -> store.execute("client-1", "in-flight", "p", () -> {
                started.countDown();
                release.await(2 * WATCHDOG_MS, TimeUnit.MILLISECONDS);
                return "ok";
            }));
            try {
                assertTrue(started.await(WATCHDOG_MS, TimeUnit.MILLISECONDS), "expected the handler to start, it did not");
                expectSize(store, 1, "one key in flight");
                Outcome other = within(() -> store.execute("client-1", "stored", "p", () -> "ok"));
                if (other == null) {
                    fail("a request for another key was blocked for 2s while the first key was in flight");
                }
                assertEquals(new Outcome("ok", null), other, "another key while the first is in flight should return \"ok\"");
                expectSize(store, 2, "one key in flight and one stored");
            } finally {
                release.countDown();
            }
            first.get();
            expectSize(store, 2, "two stored keys");
            assertThrows(PaymentException.class, () -> store.execute("client-1", "failing", "p", () -> {
                throw new PaymentException("boom");
            }));
            expectSize(store, 2, "a failed request is not held");
        }

        @Test
        @DisplayName("expired keys are dropped from the store, even with no request in between")
        void expiredKeysAreDropped() throws Exception {
            FakeClock clock = new FakeClock();
            IdempotencyStore store = newStore(clock);
            Charges charges = new Charges();
            for (int i = 0; i < 1000; i++) {
                store.execute("client-1", "key-" + i, "p", charges);
            }
            expectSize(store, 1000, "1000 keys stored at t=+0");
            clock.advance(TTL - 1);
            expectSize(store, 1000, "at t=+59999ms no key has expired");
            clock.advance(1);
            expectSize(store, 0, "at t=+60000ms every key has expired, even with no request in between");
            expectResponse(store, "client-1", "new", "p", charges, "charge-1001", "a new key after expiry");
            expectSize(store, 1, "only the new key is held");
        }

        @Test
        @DisplayName("memory stays bounded under a rolling workload")
        void memoryStaysBounded() throws Exception {
            FakeClock clock = new FakeClock();
            IdempotencyStore store = newStore(clock);
            // One new key per second, each kept 60 seconds: at most 60 are ever held.
            for (int i = 0; i < 3000; i++) {
                if (i > 0) {
                    clock.advance(1_000);
                }
                store.execute("client-1", "key-" + i, "p", () -> "ok");
                int want = Math.min(i + 1, 60);
                int got = store.size();
                if (got != want) {
                    fail("after " + (i + 1) + " requests one second apart with a 60s TTL: expected size() == " + want + ", got " + got);
                }
            }
        }
        /** Heap in use after a full collection (System.gc() runs one, stopping the world). */
        static long usedHeapAfterGc() {
            Runtime runtime = Runtime.getRuntime();
            System.gc();
            return runtime.totalMemory() - runtime.freeMemory();
        }

        @Test
        @DisplayName("memory held by the store does not grow while keys keep expiring")
        void memoryDoesNotGrowWhileKeysExpire() throws Exception {
            int windows = 10;
            int perWindow = 2000;
            FakeClock clock = new FakeClock();
            IdempotencyStore store = newStore(clock);
            String filler = "r".repeat(80);
            long baseline = 0;
            for (int w = 0; w < windows; w++) {
                for (int i = 0; i < perWindow; i++) {
                    String key = "w" + w + "-key-" + i;
                    store.execute("client-1", key, "amount=100", () -> "response-for-" + key + filler);
                }
                int window = w;
                assertEquals(perWindow, store.size(), () -> "window " + window + ": expected size() == " + perWindow
                        + " after storing " + perWindow + " new keys");
                clock.advance(TTL); // every key of this window expires
                assertEquals(0, store.size(), () -> "window " + window + ": expected size() == 0 once all its keys expired");
                if (w == 1) {
                    baseline = usedHeapAfterGc();
                }
            }
            long grown = usedHeapAfterGc() - baseline;
            Reference.reachabilityFence(store); // the store must still be alive when the heap is measured
            if (grown > 1 << 20) {
                fail("expected the memory held by the store to stay flat while keys keep expiring, but it grew by "
                        + (grown >> 10) + " KB over " + (windows - 2) + " more windows of " + perWindow
                        + " expired keys: are expired entries still referenced somewhere (a queue, a map of locks)?");
            }
        }
    }

    @Nested
    @DisplayName("Complexity")
    class Complexity {
        interface Work {
            /** Runs the measured work on target(batch) and returns its nanoseconds; may stop once over budget. */
            long run(IntFunction<IdempotencyStore> target, int round, long budgetNanos) throws Exception;
        }

        static IdempotencyStore filledStore(int keys) throws Exception {
            IdempotencyStore store = newStore(new FakeClock());
            for (int i = 0; i < keys; i++) {
                store.execute("client-1", "key-" + i, "p", () -> "ok");
            }
            return store;
        }

        /**
         * Best times {small, big} of the same work over a few rounds: noise (and the JIT
         * warming up) only ever slows a run down, so the fastest run of each is the closest
         * to its true cost. The big store gets 50x the small store's time, far beyond the 10x
         * allowed; two rounds over that budget end the measurement, so a hopelessly slow
         * store fails fast.
         */
        static long[] costRatio(Work work, IntFunction<IntFunction<IdempotencyStore>> newSmall, IdempotencyStore big) throws Exception {
            long bestSmall = Long.MAX_VALUE;
            long bestBig = Long.MAX_VALUE;
            int overBudget = 0;
            for (int round = 0; round < 8; round++) {
                bestSmall = Math.max(1, Math.min(bestSmall, work.run(newSmall.apply(round), round, Long.MAX_VALUE)));
                long bigTime = work.run(batch -> big, round, 50 * bestSmall);
                bestBig = Math.min(bestBig, bigTime);
                if (bigTime > 50 * bestSmall) {
                    overBudget++;
                }
                if ((double) bestBig / bestSmall <= 3 || overBudget == 2) {
                    break;
                }
            }
            return new long[] {bestSmall, bestBig};
        }

        @Test
        @DisplayName("execute() costs about the same with 10,000 stored keys as with 10")
        void executeCostDoesNotGrow() throws Exception {
            int batches = 40;
            int perBatch = 50;
            IdempotencyStore big = filledStore(10_000);
            String[] oldKeys = new String[10];
            for (int i = 0; i < 10; i++) {
                oldKeys[i] = "key-" + i;
            }
            String[] newKeys = new String[8 * batches * perBatch];
            for (int i = 0; i < newKeys.length; i++) {
                newKeys[i] = "new-" + i;
            }
            Callable<String> ok = () -> "ok";
            // Each batch: 50 replays of stored keys and 50 requests with new keys.
            Work work = (target, round, budget) -> {
                long total = 0;
                for (int b = 0; b < batches && total <= budget; b++) {
                    IdempotencyStore store = target.apply(b);
                    int base = (round * batches + b) * perBatch;
                    long t0 = System.nanoTime();
                    for (int i = 0; i < perBatch; i++) {
                        store.execute("client-1", oldKeys[i % 10], "p", ok);
                        store.execute("client-1", newKeys[base + i], "p", ok);
                    }
                    total += System.nanoTime() - t0;
                }
                return total;
            };
            // A fresh 10-key store for every batch, so a small store never exceeds 60 keys.
            IntFunction<IntFunction<IdempotencyStore>> newSmall = round -> {
                List<IdempotencyStore> stores = new ArrayList<>();
                for (int b = 0; b < batches; b++) {
                    try {
                        stores.add(filledStore(10));
                    } catch (Exception e) {
                        throw new AssertionError("filling a 10-key store failed: " + e, e);
                    }
                }
                return stores::get;
            };
            long[] best = costRatio(work, newSmall, big);
            expectResponse(big, "client-1", "key-9999", "p", mustNotRun("key-9999 is stored"), "ok", "a replay on the big store");
            assertTrue(big.size() > 10_000, () -> "the big store should hold more than 10,000 keys after the measurements, holds " + big.size());
            double ratio = (double) best[1] / best[0];
            if (ratio > 10) {
                fail(String.format("expected execute() to cost about the same with 10,000 stored keys as with 10 (at most 10x), "
                        + "but it was %.1fx slower (%.2fms vs %.2fms for %d calls): is every call scanning all keys?",
                        ratio, best[1] / 1e6, best[0] / 1e6, 2 * batches * perBatch));
            }
        }

        @Test
        @DisplayName("size() costs about the same with 10,000 stored keys as with 10")
        void sizeCostDoesNotGrow() throws Exception {
            int calls = 5000;
            IdempotencyStore big = filledStore(10_000);
            IdempotencyStore small = filledStore(10);
            long[] sink = {0};
            Work work = (target, round, budget) -> {
                IdempotencyStore store = target.apply(0);
                long total = 0;
                for (int b = 0; b < calls / 500 && total <= budget; b++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < 500; i++) {
                        sink[0] += store.size();
                    }
                    total += System.nanoTime() - t0;
                }
                return total;
            };
            long[] best = costRatio(work, round -> batch -> small, big);
            assertTrue(sink[0] > 0, "size() returned 0 for non-empty stores");
            double ratio = (double) best[1] / best[0];
            if (ratio > 10) {
                fail(String.format("expected size() to cost about the same with 10,000 stored keys as with 10 (at most 10x), "
                        + "but it was %.1fx slower (%.2fms vs %.2fms for %d calls): is it counting keys one by one?",
                        ratio, best[1] / 1e6, best[0] / 1e6, calls));
            }
        }
    }

    @Nested
    @DisplayName("Concurrency")
    class Concurrency {
        /**
         * Runs call(i) for i in [0, count) on count threads at the same moment and waits for all
         * of them (with the watchdog). Threads come from a cached pool: reused across rounds,
         * and a thread stuck in a broken store never starves later tests.
         */
        Outcome[] runTogether(int count, IntFunction<Callable<String>> call, String what) throws InterruptedException {
            CountDownLatch ready = new CountDownLatch(count);
            CountDownLatch gate = new CountDownLatch(1);
            CountDownLatch finished = new CountDownLatch(count);
            Outcome[] outcomes = new Outcome[count];
            for (int i = 0; i < count; i++) {
                int index = i;
                POOL.execute(() -> {
                    try {
                        ready.countDown();
                        gate.await();
                        outcomes[index] = outcomeOf(call.apply(index));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } finally {
                        finished.countDown();
                    }
                });
            }
            ready.await(WATCHDOG_MS, TimeUnit.MILLISECONDS);
            gate.countDown();
            if (!finished.await(WATCHDOG_MS, TimeUnit.MILLISECONDS)) {
                fail(what + ": " + finished.getCount() + " of " + count + " callers had not returned after 2s (deadlock?)");
            }
            return outcomes;
        }

        @Test
        @DisplayName("concurrent duplicates run the handler exactly once and all get the same response")
        void concurrentDuplicatesRunOnce() throws Exception {
            int callers = 64;
            int rounds = 10;
            IdempotencyStore store = newStore(new FakeClock());
            for (int round = 0; round < rounds; round++) {
                String key = "order-" + round;
                AtomicInteger runs = new AtomicInteger();
                CountDownLatch arrived = new CountDownLatch(callers);
                Callable<String> handler = () -> {
                    int n = runs.incrementAndGet();
                    // Stay in flight until every caller has called execute().
                    arrived.await(WATCHDOG_MS, TimeUnit.MILLISECONDS);
                    for (int i = 0; i < 50; i++) {
                        Thread.yield();
                    }
                    return key + "-charge-" + n;
                };
                Outcome[] outcomes = runTogether(callers, i -> () -> {
                    arrived.countDown();
                    return store.execute("client-1", key, "amount=100", handler);
                }, "round " + round);
                int r = round;
                assertEquals(1, runs.get(), () -> "round " + r + ": expected the handler to run exactly once for " + callers
                        + " concurrent duplicates, but it ran " + runs.get() + " times");
                for (int i = 0; i < callers; i++) {
                    assertEquals(new Outcome(key + "-charge-1", null), outcomes[i],
                            "round " + round + ": caller " + i + " expected response \"" + key + "-charge-1\"");
                }
            }
            expectSize(store, rounds, "one stored key per round");
        }

        @Test
        @DisplayName("concurrent requests for many keys run each key's handler exactly once")
        void concurrentRequestsForManyKeys() throws Exception {
            int keys = 16;
            int perKey = 4;
            IdempotencyStore store = newStore(new FakeClock());
            AtomicInteger[] runs = new AtomicInteger[keys];
            for (int k = 0; k < keys; k++) {
                runs[k] = new AtomicInteger();
            }
            CountDownLatch arrived = new CountDownLatch(keys * perKey);
            Outcome[] outcomes = runTogether(keys * perKey, i -> () -> {
                int k = i % keys;
                String client = "client-" + (k % 4);
                String key = "key-" + k;
                arrived.countDown();
                return store.execute(client, key, "amount=" + k, () -> {
                    int n = runs[k].incrementAndGet();
                    arrived.await(WATCHDOG_MS, TimeUnit.MILLISECONDS);
                    for (int y = 0; y < 10; y++) {
                        Thread.yield();
                    }
                    return client + "/" + key + "-run-" + n;
                });
            }, (keys * perKey) + " concurrent requests");
            for (int k = 0; k < keys; k++) {
                int kk = k;
                assertEquals(1, runs[k].get(), () -> "key-" + kk + ": expected its handler to run exactly once for " + perKey
                        + " concurrent duplicates, ran " + runs[kk].get() + " times");
            }
            for (int i = 0; i < outcomes.length; i++) {
                int k = i % keys;
                String want = "client-" + (k % 4) + "/key-" + k + "-run-1";
                assertEquals(new Outcome(want, null), outcomes[i], "caller " + i + " (key-" + k + ") expected \"" + want + "\"");
            }
            expectSize(store, keys, "16 keys stored");
        }

        @Test
        @DisplayName("a duplicate with a different payload while in flight is a conflict, not a wait")
        void differentPayloadWhileInFlightIsConflict() throws Exception {
            IdempotencyStore store = newStore(new FakeClock());
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Async first = new Async(() -> store.execute("client-1", "key-1", "amount=100", () -> {
                started.countDown();
                release.await(2 * WATCHDOG_MS, TimeUnit.MILLISECONDS);
                return "charge-1";
            }));
            Outcome got;
            try {
                assertTrue(started.await(WATCHDOG_MS, TimeUnit.MILLISECONDS), "expected the handler of the first request to start, it did not");
                got = within(() -> store.execute("client-1", "key-1", "amount=999", mustNotRun("the key is in flight with another payload")));
            } finally {
                release.countDown();
            }
            if (got == null) {
                fail("a different payload for a key in flight must be rejected at once, but the call was still blocked after 2s");
            }
            Outcome conflict = got;
            assertTrue(conflict.error() instanceof IdempotencyStore.ConflictException,
                    () -> "a different payload for a key in flight: expected ConflictException, got " + conflict);
            assertEquals(new Outcome("charge-1", null), first.get(), "the first request should return \"charge-1\"");
        }

        @Test
        @DisplayName("a duplicate with the same payload while in flight waits and gets the same response")
        void samePayloadWhileInFlightWaits() throws Exception {
            int duplicates = 8;
            IdempotencyStore store = newStore(new FakeClock());
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger runs = new AtomicInteger();
            Callable<String> handler = () -> {
                int n = runs.incrementAndGet();
                if (n == 1) {
                    started.countDown();
                    release.await(2 * WATCHDOG_MS, TimeUnit.MILLISECONDS);
                }
                return "charge-" + n;
            };
            Async first = new Async(() -> store.execute("client-1", "key-1", "amount=100", handler));
            List<Async> dups = new ArrayList<>();
            try {
                assertTrue(started.await(WATCHDOG_MS, TimeUnit.MILLISECONDS), "expected the handler of the first request to start, it did not");
                AtomicInteger arrived = new AtomicInteger();
                for (int i = 0; i < duplicates; i++) {
                    dups.add(new Async(() -> {
                        arrived.incrementAndGet();
                        return store.execute("client-1", "key-1", "amount=100", handler);
                    }));
                }
                spinUntil(() -> arrived.get() == duplicates);
                for (int i = 0; i < 200; i++) {
                    Thread.yield();
                }
            } finally {
                release.countDown();
            }
            assertEquals(new Outcome("charge-1", null), first.get(), "the first request should return \"charge-1\"");
            for (int i = 0; i < duplicates; i++) {
                Outcome got = dups.get(i).get();
                assertEquals(new Outcome("charge-1", null), got, "duplicate " + i + " sent while the first request was in flight");
            }
            assertEquals(1, runs.get(), () -> "expected the handler to run once for a request and " + duplicates
                    + " duplicates sent while it was in flight, ran " + runs.get() + " times");
        }

        @Test
        @DisplayName("a slow handler for one key does not block other keys")
        void slowHandlerDoesNotBlockOtherKeys() throws Exception {
            IdempotencyStore store = newStore(new FakeClock());
            CountDownLatch slowStarted = new CountDownLatch(1);
            CountDownLatch fastRan = new CountDownLatch(1);
            Async slow = new Async(() -> store.execute("client-1", "slow", "p", () -> {
                slowStarted.countDown();
                return fastRan.await(WATCHDOG_MS, TimeUnit.MILLISECONDS)
                        ? "slow-done" : "the handler for key 'fast' never ran while 'slow' was in flight";
            }));
            assertTrue(slowStarted.await(WATCHDOG_MS, TimeUnit.MILLISECONDS), "expected the slow handler to start, it did not");
            Async fast = new Async(() -> store.execute("client-1", "fast", "p", () -> {
                fastRan.countDown();
                return "fast-done";
            }));
            slow.thread.join(WATCHDOG_MS + 1_000);
            assertEquals(new Outcome("slow-done", null), slow.outcome,
                    "expected the handler of key 'fast' to run while the handler of key 'slow' was in flight, "
                            + "but it was blocked: do not hold a lock while a handler runs");
            assertEquals(new Outcome("fast-done", null), fast.get(), "key 'fast' should return \"fast-done\"");
        }

        @Test
        @DisplayName("when an in-flight handler fails, every duplicate gets its exception and the next retry runs again")
        void failureInFlightReachesEveryDuplicate() throws Exception {
            int callers = 32;
            IdempotencyStore store = newStore(new FakeClock());
            PaymentException boom = new PaymentException("upstream timeout");
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch arrived = new CountDownLatch(callers);
            Callable<String> failing = () -> {
                runs.incrementAndGet();
                arrived.await(WATCHDOG_MS, TimeUnit.MILLISECONDS);
                for (int i = 0; i < 50; i++) {
                    Thread.yield();
                }
                throw boom;
            };
            Outcome[] outcomes = runTogether(callers, i -> () -> {
                arrived.countDown();
                return store.execute("client-1", "key-1", "amount=100", failing);
            }, "when the in-flight handler failed, its waiting duplicates must be woken too");
            for (int i = 0; i < callers; i++) {
                Outcome got = outcomes[i];
                assertSame(boom, got.error(), () -> "expected the handler's exception, unchanged, got " + got);
            }
            int runsBefore = runs.get();
            expectSize(store, 0, "after the failed burst nothing is held");
            expectResponse(store, "client-1", "key-1", "amount=100", new Charges(), "charge-1",
                    "the retry after the failed burst runs the handler again");
            assertEquals(runsBefore, runs.get(), "the failing handler ran again after the burst");
        }
    }
}
