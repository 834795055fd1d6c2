/**
 * Sliding-window rate limiter for an API gateway. Must be safe for concurrent use by many
 * threads.
 */
public class RateLimiter {

    /** Current time in milliseconds; never goes backwards. */
    public interface Clock {
        long nowMillis();
    }

    private final Clock clock;

    /**
     * Every client gets {@code defaultLimit} requests per {@code defaultWindowMillis} ms unless
     * it has an override. Throws IllegalArgumentException if the limit or window is < 1.
     */
    public RateLimiter(Clock clock, int defaultLimit, long defaultWindowMillis) {
        this.clock = clock;
        // TODO
    }

    /**
     * Overrides the limit and window of one client and clears its history. Throws
     * IllegalArgumentException if the limit or window is < 1.
     */
    public void setClientLimit(String clientId, int limit, long windowMillis) {
        throw new UnsupportedOperationException("TODO: setClientLimit");
    }

    /**
     * Admits the request (true) if fewer than {@code limit} of the client's admitted requests
     * lie in (now - window, now], recording it; otherwise returns false.
     */
    public boolean allow(String clientId) {
        throw new UnsupportedOperationException("TODO: allow");
    }

    /** Number of clients with at least one admitted request inside their window. */
    public int trackedClients() {
        throw new UnsupportedOperationException("TODO: trackedClients");
    }
}
