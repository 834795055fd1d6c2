import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * A thread-safe circuit breaker with a rolling failure window, a cooldown and a
 * bounded half-open trial phase.
 */
public final class CircuitBreaker {
    public enum State { CLOSED, OPEN, HALF_OPEN }

    public record Config(int failureThreshold, Duration window, Duration cooldown,
                         int halfOpenMaxCalls, int successThreshold) {}

    public record Stats(long successes, long failures, long rejections, long timesOpened) {}

    public static final class CircuitOpenException extends RuntimeException {
        public CircuitOpenException() {
            super("circuit breaker is open");
        }
    }

    private final Clock clock;
    private final int failureThreshold;
    private final long windowMillis;
    private final long cooldownMillis;
    private final int halfOpenMaxCalls;
    private final int successThreshold;

    private final Object lock = new Object();
    private State state = State.CLOSED;
    private long period;                                     // incremented on every state change
    private final ArrayDeque<Long> failureTimes = new ArrayDeque<>(); // inside the window, oldest first
    private long openedAt;
    private int inFlight;                                    // half-open trials in flight
    private int trialSuccesses;
    private long successes;
    private long failures;
    private long rejections;
    private long timesOpened;

    public CircuitBreaker(Config config, Clock clock) {
        Objects.requireNonNull(config, "config");
        this.clock = Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(config.window(), "window");
        Objects.requireNonNull(config.cooldown(), "cooldown");
        require(config.failureThreshold() >= 1, "failureThreshold must be at least 1");
        require(config.window().toMillis() >= 1, "window must be at least 1 ms");
        require(config.cooldown().toMillis() >= 1, "cooldown must be at least 1 ms");
        require(config.halfOpenMaxCalls() >= 1, "halfOpenMaxCalls must be at least 1");
        require(config.successThreshold() >= 1, "successThreshold must be at least 1");
        this.failureThreshold = config.failureThreshold();
        this.windowMillis = config.window().toMillis();
        this.cooldownMillis = config.cooldown().toMillis();
        this.halfOpenMaxCalls = config.halfOpenMaxCalls();
        this.successThreshold = config.successThreshold();
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    /**
     * Runs {@code fn} if the breaker admits the call and records the outcome.
     *
     * @return fn's result
     * @throws CircuitOpenException without running fn when the call is rejected
     * @throws Exception whatever fn throws
     */
    public <T> T call(Callable<T> fn) throws Exception {
        long admittedIn = admit();
        T result;
        try {
            result = fn.call();
        } catch (Throwable t) {
            complete(admittedIn, false);
            throw t;
        }
        complete(admittedIn, true);
        return result;
    }

    public State state() {
        synchronized (lock) {
            return state;
        }
    }

    public Stats stats() {
        synchronized (lock) {
            return new Stats(successes, failures, rejections, timesOpened);
        }
    }

    private long admit() {
        synchronized (lock) {
            if (state == State.CLOSED) {
                return period;
            }
            if (state == State.HALF_OPEN && inFlight < halfOpenMaxCalls) {
                inFlight++;
                return period;
            }
            rejections++;
        }
        throw new CircuitOpenException();
    }

    private void complete(long admittedIn, boolean success) {
        synchronized (lock) {
            long now = clock.millis();
            refresh(now); // the cooldown may have elapsed while fn ran
            if (success) {
                successes++;
            } else {
                failures++;
            }
            if (admittedIn != period) {
                return; // admitted in an earlier period: counted, otherwise ignored
            }
            switch (state) {
                case CLOSED -> {
                    if (success) {
                        return;
                    }
                    long cutoff = now - windowMillis;
                    while (!failureTimes.isEmpty() && failureTimes.peekFirst() <= cutoff) {
                        failureTimes.pollFirst();
                    }
                    failureTimes.addLast(now);
                    if (failureTimes.size() >= failureThreshold) {
                        open(now);
                    }
                }
                case HALF_OPEN -> {
                    inFlight--;
                    if (!success) {
                        open(now);
                    } else if (++trialSuccesses >= successThreshold) {
                        moveTo(State.CLOSED);
                    }
                }
                case OPEN -> { }
            }
        }
    }

    /** Half-opens an open breaker whose cooldown has elapsed. Caller holds the lock. */
    private void refresh(long now) {
        if (state == State.OPEN && now >= openedAt + cooldownMillis) {
            moveTo(State.HALF_OPEN);
        }
    }

    private void open(long now) {
        openedAt = now;
        timesOpened++;
        moveTo(State.OPEN);
    }

    private void moveTo(State next) {
        state = next;
        period++;
        failureTimes.clear();
        inFlight = 0;
        trialSuccesses = 0;
    }
}
