import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("Circuit breaker")
class CircuitBreakerTest {

    // ---------------------------------------------------------------- support

    static final long GUARD_MS = 2000; // safety net for calls that never return; tests never sleep

    /** A clock the tests move by hand. set(t) puts it t ms after an arbitrary base. */
    static final class FakeClock extends Clock {
        static final long BASE = 1_700_000_000_000L;
        private volatile long millis = BASE;

        void set(long t) {
            millis = BASE + t;
        }

        @Override public long millis() { return millis; }
        @Override public Instant instant() { return Instant.ofEpochMilli(millis); }
        @Override public ZoneId getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(ZoneId zone) { return this; }
    }

    /** The dependency failed. */
    static final class Boom extends Exception {
        Boom(String message) {
            super(message, null, false, false);
        }
    }

    static final Boom BOOM = new Boom("dependency failed");

    static CircuitBreaker.Config config(int failureThreshold, long windowMs, long cooldownMs,
                                        int halfOpenMaxCalls, int successThreshold) {
        return new CircuitBreaker.Config(failureThreshold, Duration.ofMillis(windowMs),
                Duration.ofMillis(cooldownMs), halfOpenMaxCalls, successThreshold);
    }

    /** threshold 3, window 1000 ms, cooldown 5000 ms, 2 trials, 2 successes. */
    static CircuitBreaker.Config standard() {
        return config(3, 1000, 5000, 2, 2);
    }

    final FakeClock clock = new FakeClock();

    CircuitBreaker breaker(CircuitBreaker.Config config) {
        return new CircuitBreaker(config, clock);
    }

    void failAt(CircuitBreaker b, long t) {
        clock.set(t);
        AtomicInteger runs = new AtomicInteger();
        Exception thrown = assertThrows(Exception.class, () -> b.call(() -> {
            runs.incrementAndGet();
            throw BOOM;
        }), "at t=" + t + ": expected the failing call to throw");
        assertSame(BOOM, thrown, "at t=" + t + ": expected the call to be admitted and rethrow fn's exception, got " + thrown);
        assertEquals(1, runs.get(), "at t=" + t + ": expected fn to run once");
    }

    void succeedAt(CircuitBreaker b, long t) {
        clock.set(t);
        try {
            assertEquals("ok", b.call(() -> "ok"), "at t=" + t + ": expected call() to return fn's result");
        } catch (CircuitBreaker.CircuitOpenException e) {
            fail("at t=" + t + ": expected the call to be admitted, but it was rejected (state " + b.state() + ")");
        } catch (Exception e) {
            fail("at t=" + t + ": unexpected exception " + e);
        }
    }

    void expectRejectedAt(CircuitBreaker b, long t) {
        clock.set(t);
        AtomicInteger runs = new AtomicInteger();
        assertThrows(CircuitBreaker.CircuitOpenException.class, () -> b.call(() -> runs.incrementAndGet()),
                "at t=" + t + ": expected the call to be rejected with CircuitOpenException");
        assertEquals(0, runs.get(), "at t=" + t + ": expected fn not to run for a rejected call");
    }

    static void expectState(CircuitBreaker b, CircuitBreaker.State want, String when) {
        CircuitBreaker.State got = b.state();
        assertEquals(want, got, when + ": expected state " + want + ", got " + got);
    }

    static void expectStats(CircuitBreaker b, long successes, long failures, long rejections, long timesOpened) {
        CircuitBreaker.Stats want = new CircuitBreaker.Stats(successes, failures, rejections, timesOpened);
        CircuitBreaker.Stats got = b.stats();
        assertEquals(want, got, "expected stats " + want + ", got " + got);
    }

    /** A call running on its own thread whose fn blocks until finish(). */
    static final class InFlight {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch done = new CountDownLatch(1);
        final Semaphore progress = new Semaphore(0);
        private final CountDownLatch release = new CountDownLatch(1);
        private volatile Object outcome;
        volatile Object result;
        volatile Throwable error;

        InFlight(CircuitBreaker b) {
            Thread thread = new Thread(() -> {
                try {
                    result = b.call(() -> {
                        entered.countDown();
                        progress.release();
                        release.await(GUARD_MS, TimeUnit.MILLISECONDS);
                        if (outcome instanceof Exception e) {
                            throw e;
                        }
                        return outcome;
                    });
                } catch (Throwable t) {
                    error = t;
                } finally {
                    done.countDown();
                    progress.release();
                }
            });
            thread.setDaemon(true);
            thread.start();
        }

        /** Lets fn return outcome (or throw it, if it is an exception) and waits for call() to return. */
        InFlight finish(Object outcome) throws InterruptedException {
            this.outcome = outcome;
            release.countDown();
            assertTrue(done.await(GUARD_MS, TimeUnit.MILLISECONDS), "call() did not return after fn returned");
            return this;
        }
    }

    /** Starts a blocking call; returns it if fn started, or null if call() returned without running fn. */
    static InFlight begin(CircuitBreaker b, AtomicReference<Throwable> rejection) throws InterruptedException {
        InFlight c = new InFlight(b);
        if (!c.progress.tryAcquire(GUARD_MS, TimeUnit.MILLISECONDS)) {
            fail("a call neither ran fn nor returned (is a lock held while fn runs?)");
        }
        if (c.entered.getCount() == 0) {
            return c;
        }
        rejection.set(c.error);
        return null;
    }

    static InFlight beginAdmitted(CircuitBreaker b, String what) throws InterruptedException {
        AtomicReference<Throwable> rejection = new AtomicReference<>();
        InFlight c = begin(b, rejection);
        if (c == null) {
            fail(what + ": expected the call to be admitted (fn to run), but it threw " + rejection.get() + " without running fn");
        }
        return c;
    }

    static void expectBeginRejected(CircuitBreaker b, String why) throws InterruptedException {
        AtomicReference<Throwable> rejection = new AtomicReference<>();
        InFlight c = begin(b, rejection);
        if (c != null) {
            c.finish("ok");
            fail(why + "; but fn ran");
        }
        assertInstanceOf(CircuitBreaker.CircuitOpenException.class, rejection.get(),
                why + ": expected CircuitOpenException, got " + rejection.get());
    }

    // ------------------------------------------------------------------ tests

    @Nested
    @DisplayName("basics")
    class Basics {
        @Test
        @DisplayName("a new breaker is closed with all counters at zero")
        void newBreakerIsClosedWithAllCountersAtZero() {
            CircuitBreaker b = breaker(standard());
            expectState(b, CircuitBreaker.State.CLOSED, "new breaker");
            expectStats(b, 0, 0, 0, 0);
        }

        @Test
        @DisplayName("a successful call returns fn's result and counts a success")
        void successfulCallReturnsResultAndCountsASuccess() throws Exception {
            CircuitBreaker b = breaker(standard());
            AtomicInteger runs = new AtomicInteger();
            Integer result = b.call(() -> { runs.incrementAndGet(); return 42; });
            assertEquals(42, result, "expected call() to return fn's result");
            assertEquals(1, runs.get(), "expected fn to run once");
            expectStats(b, 1, 0, 0, 0);
        }

        @Test
        @DisplayName("a failing call rethrows fn's own exception and counts a failure")
        void failingCallRethrowsFnsOwnExceptionAndCountsAFailure() {
            CircuitBreaker b = breaker(standard());
            IllegalStateException error = new IllegalStateException("exactly this one");
            Exception thrown = assertThrows(Exception.class, () -> b.call(() -> { throw error; }));
            assertSame(error, thrown, "expected call() to rethrow the very exception fn threw, got " + thrown);
            expectStats(b, 0, 1, 0, 0);
            expectState(b, CircuitBreaker.State.CLOSED, "after one failure with threshold 3");
        }

        @Test
        @DisplayName("an invalid configuration is rejected")
        void invalidConfigurationIsRejected() {
            List<CircuitBreaker.Config> bad = List.of(
                    config(0, 1000, 5000, 2, 2), config(-1, 1000, 5000, 2, 2),
                    config(3, 0, 5000, 2, 2), config(3, -1000, 5000, 2, 2),
                    config(3, 1000, 0, 2, 2), config(3, 1000, 5000, 0, 2),
                    config(3, 1000, 5000, 2, 0), config(3, 1000, 5000, 2, -1));
            for (CircuitBreaker.Config c : bad) {
                assertThrows(IllegalArgumentException.class, () -> new CircuitBreaker(c, clock),
                        "expected IllegalArgumentException for " + c);
            }
            assertThrows(RuntimeException.class, () -> new CircuitBreaker(standard(), null),
                    "expected an exception for a null clock");
            new CircuitBreaker(config(1, 1, 1, 1, 1), clock); // all 1: valid
        }

        @Test
        @DisplayName("two breakers do not share state")
        void breakersDoNotShareState() {
            CircuitBreaker first = breaker(standard());
            CircuitBreaker second = breaker(standard());
            failAt(first, 0);
            failAt(first, 1);
            failAt(second, 2);
            failAt(first, 3);
            expectState(first, CircuitBreaker.State.OPEN, "first breaker after 3 failures");
            expectState(second, CircuitBreaker.State.CLOSED, "second breaker after 1 failure (the first breaker's failures are not its own)");
            succeedAt(second, 4);
            expectStats(second, 1, 1, 0, 0);
        }
    }

    @Nested
    @DisplayName("rolling failure window")
    class RollingWindow {
        @Test
        @DisplayName("the breaker trips when failures in the window reach the threshold")
        void tripsWhenFailuresInTheWindowReachTheThreshold() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 10);
            expectState(b, CircuitBreaker.State.CLOSED, "after 2 of 3 failures");
            failAt(b, 20);
            expectState(b, CircuitBreaker.State.OPEN, "after 3 failures within 1000 ms (threshold 3)");
            expectStats(b, 0, 3, 0, 1);
        }

        @Test
        @DisplayName("a failure exactly one window old no longer counts")
        void failureExactlyOneWindowOldNoLongerCounts() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 500);
            failAt(b, 1000); // window at 1000 is (0, 1000]
            expectState(b, CircuitBreaker.State.CLOSED, "failures at 0, 500, 1000 with a 1000 ms window (only 2 inside (0, 1000])");
        }

        @Test
        @DisplayName("a failure one millisecond inside the window still counts")
        void failureOneMillisecondInsideTheWindowStillCounts() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 500);
            failAt(b, 999); // window at 999 is (-1, 999]
            expectState(b, CircuitBreaker.State.OPEN, "failures at 0, 500, 999 with a 1000 ms window (all 3 inside (-1, 999])");
        }

        @Test
        @DisplayName("failures spread out over time never trip the breaker")
        void failuresSpreadOutOverTimeNeverTrip() {
            CircuitBreaker b = breaker(standard());
            for (int i = 0; i < 30; i++) {
                failAt(b, i * 600L); // at most 2 failures in any 1000 ms window
            }
            expectState(b, CircuitBreaker.State.CLOSED, "30 failures 600 ms apart (never 3 within 1000 ms)");
            expectStats(b, 0, 30, 0, 0);
        }

        @Test
        @DisplayName("the window slides continuously rather than resetting in blocks")
        void windowSlidesContinuously() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 900);
            failAt(b, 1000);
            expectState(b, CircuitBreaker.State.CLOSED, "failures at 0, 900, 1000 (2 inside (0, 1000])");
            failAt(b, 1100);
            expectState(b, CircuitBreaker.State.OPEN, "failures at 900, 1000, 1100 are all inside (100, 1100]");
        }

        @Test
        @DisplayName("successes do not erase earlier failures")
        void successesDoNotEraseEarlierFailures() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            succeedAt(b, 100);
            failAt(b, 200);
            succeedAt(b, 300);
            succeedAt(b, 400);
            failAt(b, 500);
            expectState(b, CircuitBreaker.State.OPEN, "3 failures within 1000 ms with successes in between (rolling window, not consecutive failures)");
            expectStats(b, 3, 3, 0, 1);
        }

        @Test
        @DisplayName("a failure is timed when the call finishes, not when it starts")
        void failureIsTimedWhenTheCallFinishes() {
            CircuitBreaker b = breaker(config(2, 1000, 5000, 1, 1));
            failAt(b, 0);
            clock.set(500);
            assertThrows(Boom.class, () -> b.call(() -> {
                clock.set(1000); // the call takes 500 ms and fails at t=1000
                throw BOOM;
            }));
            expectState(b, CircuitBreaker.State.CLOSED, "failure finished at 1000: window (0, 1000] holds only 1 failure");
            failAt(b, 1999);
            expectState(b, CircuitBreaker.State.OPEN, "failures at 1000 and 1999 are inside (999, 1999]");
        }
    }

    @Nested
    @DisplayName("open state and cooldown")
    class OpenState {
        @Test
        @DisplayName("an open breaker rejects calls without running fn")
        void openBreakerRejectsCallsWithoutRunningFn() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 1);
            failAt(b, 2);
            for (int i = 0; i < 5; i++) {
                expectRejectedAt(b, 10 + i);
            }
            expectStats(b, 0, 3, 5, 1);
            expectState(b, CircuitBreaker.State.OPEN, "after rejected calls");
        }

        @Test
        @DisplayName("the breaker stays open until one millisecond before the cooldown ends")
        void staysOpenUntilOneMillisecondBeforeTheCooldownEnds() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 50);
            failAt(b, 100); // opens at 100, cooldown 5000 -> half-open at 5100
            expectRejectedAt(b, 5099);
            expectState(b, CircuitBreaker.State.OPEN, "at t=5099, opened at 100 with a 5000 ms cooldown");
        }

        @Test
        @DisplayName("the breaker admits a trial exactly when the cooldown ends")
        void admitsATrialExactlyWhenTheCooldownEnds() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 50);
            failAt(b, 100);
            succeedAt(b, 5100);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "after 1 of 2 required trial successes");
        }

        @Test
        @DisplayName("state() reports half-open once the cooldown ends, even without calls")
        void stateReportsHalfOpenWithoutCalls() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 50);
            failAt(b, 100);
            clock.set(5099);
            expectState(b, CircuitBreaker.State.OPEN, "at t=5099");
            clock.set(5100);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "at t=5100 (opened at 100, cooldown 5000), no call made");
            expectStats(b, 0, 3, 0, 1);
        }

        @Test
        @DisplayName("rejected calls do not extend the cooldown")
        void rejectedCallsDoNotExtendTheCooldown() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 0);
            failAt(b, 0); // opens at 0
            for (long t : new long[] {1000, 2000, 3000, 4000, 4999}) {
                expectRejectedAt(b, t);
            }
            succeedAt(b, 5000);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "at t=5000 after rejected calls during the cooldown");
        }
    }

    @Nested
    @DisplayName("half-open trials")
    class HalfOpen {
        @Test
        @DisplayName("half-open closes after the required number of successful trials")
        void closesAfterTheRequiredNumberOfSuccessfulTrials() {
            CircuitBreaker b = breaker(config(1, 1000, 1000, 2, 3));
            failAt(b, 0); // opens at 0, half-open at 1000
            succeedAt(b, 1000);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "after 1 of 3 trial successes");
            succeedAt(b, 1001);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "after 2 of 3 trial successes");
            succeedAt(b, 1002);
            expectState(b, CircuitBreaker.State.CLOSED, "after 3 of 3 trial successes");
            expectStats(b, 3, 1, 0, 1);
        }

        @Test
        @DisplayName("a failed trial re-opens the breaker and restarts the cooldown")
        void failedTrialReopensAndRestartsTheCooldown() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            failAt(b, 50);
            failAt(b, 100); // opens at 100, half-open at 5100
            succeedAt(b, 5100);
            failAt(b, 5200); // re-opens at 5200, half-open at 10200
            expectState(b, CircuitBreaker.State.OPEN, "right after a failed trial");
            expectRejectedAt(b, 10199);
            clock.set(10200);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "at t=10200 (re-opened at 5200, cooldown 5000)");
            expectStats(b, 1, 4, 1, 2);
        }

        @Test
        @DisplayName("half-open limits trials in flight, not the total number of trials")
        void limitsTrialsInFlightNotTheTotal() {
            CircuitBreaker b = breaker(config(1, 1000, 1000, 1, 3));
            failAt(b, 0);
            for (int i = 0; i < 3; i++) {
                succeedAt(b, 1000); // one trial at a time, three one after another
            }
            expectState(b, CircuitBreaker.State.CLOSED, "after 3 sequential successful trials with halfOpenMaxCalls 1");
        }

        @Test
        @DisplayName("half-open rejects trials beyond the limit while others are in flight")
        void rejectsTrialsBeyondTheLimit() throws Exception {
            CircuitBreaker b = breaker(config(1, 1000, 1000, 2, 2));
            failAt(b, 0);
            clock.set(1000);
            InFlight a = beginAdmitted(b, "first trial");
            InFlight c = beginAdmitted(b, "second trial");
            expectBeginRejected(b, "expected the third concurrent trial to be rejected (limit 2)");
            a.finish("ok");
            expectState(b, CircuitBreaker.State.HALF_OPEN, "after 1 of 2 trial successes");
            c.finish("ok");
            expectState(b, CircuitBreaker.State.CLOSED, "after 2 of 2 trial successes");
            expectStats(b, 2, 1, 1, 1);
        }

        @Test
        @DisplayName("a closed breaker starts with a fresh failure window")
        void closedBreakerStartsWithAFreshFailureWindow() {
            CircuitBreaker b = breaker(config(3, 10000, 1000, 1, 1));
            failAt(b, 0);
            failAt(b, 1);
            failAt(b, 2); // opens at 2
            succeedAt(b, 1002);
            expectState(b, CircuitBreaker.State.CLOSED, "after the successful trial");
            failAt(b, 1003);
            failAt(b, 1004);
            expectState(b, CircuitBreaker.State.CLOSED, "2 failures since closing: the 3 failures before the trip were forgotten");
            failAt(b, 1005);
            expectState(b, CircuitBreaker.State.OPEN, "3 failures since closing");
        }

        @Test
        @DisplayName("the worked example from the statement")
        void workedExampleFromTheStatement() {
            CircuitBreaker b = breaker(standard());
            failAt(b, 0);
            succeedAt(b, 400);
            failAt(b, 900);
            failAt(b, 1000);
            expectState(b, CircuitBreaker.State.CLOSED, "t=1000");
            failAt(b, 1200);
            expectState(b, CircuitBreaker.State.OPEN, "t=1200");
            expectRejectedAt(b, 3000);
            clock.set(6199);
            expectState(b, CircuitBreaker.State.OPEN, "t=6199");
            succeedAt(b, 6200);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "t=6200");
            succeedAt(b, 6300);
            expectState(b, CircuitBreaker.State.CLOSED, "t=6300");
            expectStats(b, 3, 4, 1, 1);
        }
    }

    @Nested
    @DisplayName("calls that finish in a later period")
    class LateOutcomes {
        @Test
        @DisplayName("a trial finishing after the breaker re-opened changes nothing")
        void trialFinishingAfterReopenChangesNothing() throws Exception {
            CircuitBreaker b = breaker(config(1, 1000, 1000, 2, 1));
            failAt(b, 0);
            clock.set(1000);
            InFlight a = beginAdmitted(b, "trial A");
            InFlight c = beginAdmitted(b, "trial B");
            clock.set(1500);
            c.finish(new Boom("trial B failed"));
            assertInstanceOf(Boom.class, c.error, "expected trial B to rethrow fn's exception, got " + c.error);
            a.finish("ok");
            assertEquals("ok", a.result, "expected trial A to return fn's result, got " + a.result + " / " + a.error);
            expectState(b, CircuitBreaker.State.OPEN, "trial B re-opened the breaker; trial A's late success belongs to the old period");
            expectRejectedAt(b, 2499);
            clock.set(2500);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "at t=2500 (re-opened at 1500)");
            expectStats(b, 1, 2, 1, 2);
        }

        @Test
        @DisplayName("a stale trial does not free a slot in the next half-open period")
        void staleTrialDoesNotFreeASlot() throws Exception {
            CircuitBreaker b = breaker(config(1, 1000, 1000, 2, 2));
            failAt(b, 0);
            clock.set(1000);
            InFlight old = beginAdmitted(b, "trial A of the first half-open period");
            InFlight other = beginAdmitted(b, "trial B of the first half-open period");
            other.finish(new Boom("trial B failed")); // re-opens at 1000
            clock.set(2000);
            InFlight c = beginAdmitted(b, "trial C of the second half-open period");
            old.finish("ok"); // stale: must not free one of the 2 slots of the new period
            InFlight d = beginAdmitted(b, "trial D of the second half-open period");
            expectBeginRejected(b, "expected trial E to be rejected: C and D are in flight (limit 2) and stale trial A must not free a slot");
            c.finish("ok");
            expectState(b, CircuitBreaker.State.HALF_OPEN, "after 1 of 2 trial successes of the new period (A's late success does not count)");
            d.finish("ok");
            expectState(b, CircuitBreaker.State.CLOSED, "after 2 of 2 trial successes");
        }

        @Test
        @DisplayName("a call admitted before the trip does not count as a trial success")
        void callAdmittedBeforeTheTripIsNotATrial() throws Exception {
            CircuitBreaker b = breaker(config(1, 1000, 1000, 1, 1));
            InFlight slow = beginAdmitted(b, "slow call while closed");
            failAt(b, 0); // trips at 0
            clock.set(1000);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "at t=1000");
            slow.finish("ok");
            expectState(b, CircuitBreaker.State.HALF_OPEN, "a call admitted while closed finished in the half-open period: it is not a trial");
            succeedAt(b, 1000); // the one real trial slot is still free
            expectState(b, CircuitBreaker.State.CLOSED, "after the real trial succeeded");
            expectStats(b, 2, 1, 0, 1);
        }

        @Test
        @DisplayName("a call admitted before the trip failing later does not restart the cooldown")
        void lateFailureDoesNotRestartTheCooldown() throws Exception {
            CircuitBreaker b = breaker(config(2, 1000, 1000, 1, 1));
            InFlight slow = beginAdmitted(b, "slow call while closed");
            failAt(b, 0);
            failAt(b, 10); // trips at 10
            clock.set(500);
            slow.finish(new Boom("slow failure"));
            assertInstanceOf(Boom.class, slow.error, "expected the slow call to rethrow fn's exception, got " + slow.error);
            expectState(b, CircuitBreaker.State.OPEN, "at t=500");
            clock.set(1009);
            expectState(b, CircuitBreaker.State.OPEN, "at t=1009");
            clock.set(1010);
            expectState(b, CircuitBreaker.State.HALF_OPEN, "at t=1010: cooldown counts from the trip at 10, not from the late failure at 500");
            expectStats(b, 0, 3, 0, 1);
        }
    }

    @Nested
    @DisplayName("concurrency")
    class Concurrency {
        /** Runs body on each of `workers` threads, all released at once; rethrows the first error. */
        void hammer(int workers, Callable<Void> body) throws Exception {
            CyclicBarrier barrier = new CyclicBarrier(workers);
            List<Thread> threads = new ArrayList<>();
            AtomicReference<Throwable> error = new AtomicReference<>();
            for (int w = 0; w < workers; w++) {
                Thread t = new Thread(() -> {
                    try {
                        barrier.await(GUARD_MS, TimeUnit.MILLISECONDS);
                        body.call();
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                    }
                });
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
            for (Thread t : threads) {
                t.join(GUARD_MS * 5);
            }
            assertNull(error.get(), "expected no unexpected exception in worker threads, got " + error.get());
        }

        @Test
        @DisplayName("concurrent callers never exceed the trial limit when the cooldown ends")
        void concurrentCallersNeverExceedTheTrialLimit() throws Exception {
            final int callers = 50, limit = 3, rounds = 20;
            CircuitBreaker b = breaker(config(1, 1000, 1000, limit, limit));
            failAt(b, 0); // opens at 0
            ExecutorService pool = Executors.newFixedThreadPool(callers);
            try {
                for (int round = 1; round <= rounds; round++) {
                    // The cooldown has just ended; 50 callers race for the 3 trial slots.
                    clock.set(round * 1000L);
                    final boolean last = round == rounds;
                    AtomicInteger entered = new AtomicInteger();
                    CountDownLatch arrived = new CountDownLatch(callers);
                    CountDownLatch release = new CountDownLatch(1);
                    CyclicBarrier start = new CyclicBarrier(callers);
                    AtomicReference<Throwable> unexpected = new AtomicReference<>();
                    List<Future<?>> calls = new ArrayList<>();
                    for (int i = 0; i < callers; i++) {
                        calls.add(pool.submit(() -> {
                            try {
                                start.await(GUARD_MS, TimeUnit.MILLISECONDS);
                                b.call(() -> {
                                    entered.incrementAndGet();
                                    arrived.countDown();
                                    release.await(GUARD_MS, TimeUnit.MILLISECONDS);
                                    if (!last) {
                                        throw BOOM;
                                    }
                                    return "ok";
                                });
                            } catch (Boom e) {
                                // an admitted trial that failed
                            } catch (CircuitBreaker.CircuitOpenException e) {
                                arrived.countDown();
                            } catch (Throwable e) {
                                unexpected.compareAndSet(null, e);
                                arrived.countDown();
                            }
                        }));
                    }
                    boolean allArrived = arrived.await(GUARD_MS, TimeUnit.MILLISECONDS);
                    int got = entered.get();
                    release.countDown();
                    for (Future<?> call : calls) {
                        call.get(GUARD_MS, TimeUnit.MILLISECONDS);
                    }
                    assertNull(unexpected.get(), "round " + round + ": unexpected exception " + unexpected.get());
                    assertTrue(allArrived, "round " + round + ": not every caller was admitted or rejected in time");
                    assertEquals(limit, got, "round " + round + ": expected exactly " + limit + " of " + callers
                            + " racing callers to run as trials (halfOpenMaxCalls " + limit + "), got " + got);
                }
            } finally {
                pool.shutdownNow();
            }
            expectState(b, CircuitBreaker.State.CLOSED, "after " + limit + " successful trials in the last round");
            expectStats(b, limit, 1 + (rounds - 1) * limit, (long) rounds * (callers - limit), rounds);
        }

        @Test
        @DisplayName("trials in flight never exceed the limit under sustained load")
        void trialsInFlightNeverExceedTheLimitUnderSustainedLoad() throws Exception {
            final int workers = 8, perWorker = 2000, limit = 2;
            // Half-open forever: trials succeed but 10^9 successes are needed to close.
            CircuitBreaker b = breaker(config(1, 1000, 1000, limit, 1_000_000_000));
            failAt(b, 0);
            clock.set(1000);
            AtomicInteger inFlight = new AtomicInteger();
            AtomicInteger maxInFlight = new AtomicInteger();
            AtomicLong runs = new AtomicLong();
            hammer(workers, () -> {
                for (int i = 0; i < perWorker; i++) {
                    try {
                        b.call(() -> {
                            maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                            runs.incrementAndGet();
                            Thread.yield(); // let other callers run while this trial is in flight
                            inFlight.decrementAndGet();
                            return null;
                        });
                    } catch (CircuitBreaker.CircuitOpenException e) {
                        // rejected: the slots were taken
                    }
                }
                return null;
            });
            assertTrue(maxInFlight.get() <= limit, "expected at most " + limit + " trials in flight at once, saw " + maxInFlight.get());
            expectState(b, CircuitBreaker.State.HALF_OPEN, "trials keep succeeding but 10^9 successes are needed");
            expectStats(b, runs.get(), 1, (long) workers * perWorker - runs.get(), 1);
        }

        @Test
        @DisplayName("concurrent calls lose no counter updates")
        void concurrentCallsLoseNoCounterUpdates() throws Exception {
            final int workers = 8, perWorker = 10_000;
            CircuitBreaker closed = breaker(config(1, 1000, 1000, 1, 1));
            hammer(workers, () -> {
                for (int i = 0; i < perWorker; i++) {
                    closed.call(() -> "ok");
                }
                return null;
            });
            expectStats(closed, (long) workers * perWorker, 0, 0, 0);
            expectState(closed, CircuitBreaker.State.CLOSED, "only successes");

            CircuitBreaker open = breaker(config(1, 1000, 1000, 1, 1));
            failAt(open, 0); // the clock stays at 0, so the breaker stays open
            hammer(workers, () -> {
                for (int i = 0; i < perWorker; i++) {
                    try {
                        open.call(() -> "ok");
                    } catch (CircuitBreaker.CircuitOpenException e) {
                        // expected
                    }
                }
                return null;
            });
            expectStats(open, 0, 1, (long) workers * perWorker, 1);
        }

        @Test
        @DisplayName("concurrent failures trip the breaker exactly once")
        void concurrentFailuresTripTheBreakerExactlyOnce() throws Exception {
            final int workers = 8, perWorker = 200, threshold = 100;
            CircuitBreaker b = breaker(config(threshold, 1000, 1000, 1, 1));
            AtomicLong ran = new AtomicLong();
            hammer(workers, () -> {
                for (int i = 0; i < perWorker; i++) {
                    try {
                        b.call(() -> {
                            ran.incrementAndGet();
                            throw BOOM;
                        });
                    } catch (Boom | CircuitBreaker.CircuitOpenException e) {
                        // expected
                    }
                }
                return null;
            });
            CircuitBreaker.Stats s = b.stats();
            assertEquals(1, s.timesOpened(), "expected the breaker to open exactly once, got " + s);
            expectState(b, CircuitBreaker.State.OPEN, "after the trip (the clock never moved)");
            assertEquals(ran.get(), s.failures(), "expected failures to equal the " + ran.get() + " runs of fn, got " + s);
            assertTrue(s.failures() >= threshold, "expected at least " + threshold + " failures, got " + s);
            assertEquals((long) workers * perWorker, s.failures() + s.rejections(),
                    "expected failures + rejections = " + workers * perWorker + ", got " + s);
        }
    }

    @Nested
    @DisplayName("complexity")
    class Complexity {
        /** A breaker fed failures 10 ms apart: with a 10 ms window only 1 is ever inside it. */
        final class Feeder {
            final FakeClock feederClock = new FakeClock();
            final CircuitBreaker b = new CircuitBreaker(config(3, 10, 1000, 1, 1), feederClock);
            long now;

            Feeder(int history) {
                batch(history);
            }

            /** Makes n failing calls and returns the time they took. */
            long batch(int n) {
                long began = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    feederClock.set(now);
                    try {
                        b.call(() -> { throw BOOM; });
                    } catch (Exception expected) {
                        // Boom
                    }
                    now += 10;
                }
                return System.nanoTime() - began;
            }
        }

        @Test
        @DisplayName("the cost of a call does not grow with the number of past failures")
        void callCostDoesNotGrowWithPastFailures() {
            new Feeder(3000); // warm up the JIT
            Feeder small = new Feeder(10);
            Feeder large = new Feeder(10_000);
            long bestSmall = Long.MAX_VALUE, bestLarge = Long.MAX_VALUE;
            for (int round = 0; round < 15; round++) { // interleaved, so both see the same JIT state
                bestSmall = Math.min(bestSmall, small.batch(200));
                bestLarge = Math.min(bestLarge, large.batch(200));
            }
            assertEquals(CircuitBreaker.State.CLOSED, small.b.state(), "expected the breaker to stay closed");
            assertEquals(CircuitBreaker.State.CLOSED, large.b.state(), "expected the breaker to stay closed");
            long perSmall = Math.max(1, bestSmall / 200), perLarge = bestLarge / 200;
            assertTrue(perLarge <= 10 * perSmall, String.format(
                    "expected a call after 10,000 expired failures to cost at most 10x a call after 10, got %d ns vs %d ns (%.1fx): are expired failures kept and scanned?",
                    perLarge, perSmall, (double) perLarge / perSmall));
        }
    }
}
