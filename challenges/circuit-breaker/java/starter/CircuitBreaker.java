import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;

/** A thread-safe circuit breaker. See the statement for the exact rules. */
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

    /**
     * @throws IllegalArgumentException if a number is below 1 or a duration is shorter than 1 ms
     * @throws NullPointerException if config or clock is null
     */
    public CircuitBreaker(Config config, Clock clock) {
        // TODO
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Runs {@code fn} if the breaker admits the call and records the outcome.
     *
     * @return fn's result
     * @throws CircuitOpenException without running fn when the call is rejected
     * @throws Exception whatever fn throws
     */
    public <T> T call(Callable<T> fn) throws Exception {
        // TODO
        throw new UnsupportedOperationException("TODO");
    }

    /** The current state (half-open once the cooldown has elapsed). */
    public State state() {
        // TODO
        throw new UnsupportedOperationException("TODO");
    }

    /** A snapshot of the counters. */
    public Stats stats() {
        // TODO
        throw new UnsupportedOperationException("TODO");
    }
}
