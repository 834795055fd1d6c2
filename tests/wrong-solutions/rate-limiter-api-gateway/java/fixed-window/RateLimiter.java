import java.util.HashMap;
import java.util.Map;

/**
 * Fixed-window counter: each client gets {@code limit} requests per aligned window
 * [k*window, (k+1)*window). Not a sliding window: a client can burst twice its limit across a
 * window boundary.
 */
public class RateLimiter {
    public interface Clock {
        long nowMillis();
    }

    private record Config(int limit, long window) {}

    private static final class Counter {
        long start;
        int count;
    }

    private final Clock clock;
    private final Config defaults;
    private final Map<String, Config> overrides = new HashMap<>();
    private final Map<String, Counter> counters = new HashMap<>();

    public RateLimiter(Clock clock, int defaultLimit, long defaultWindowMillis) {
        if (defaultLimit < 1 || defaultWindowMillis < 1) {
            throw new IllegalArgumentException("limit and window must be positive");
        }
        this.clock = clock;
        this.defaults = new Config(defaultLimit, defaultWindowMillis);
    }

    public synchronized void setClientLimit(String clientId, int limit, long windowMillis) {
        if (limit < 1 || windowMillis < 1) {
            throw new IllegalArgumentException("limit and window must be positive");
        }
        overrides.put(clientId, new Config(limit, windowMillis));
        counters.remove(clientId);
    }

    public synchronized boolean allow(String clientId) {
        long now = clock.nowMillis();
        Config config = overrides.getOrDefault(clientId, defaults);
        long start = now - now % config.window();
        Counter counter = counters.computeIfAbsent(clientId, id -> new Counter());
        if (counter.start != start) {
            counter.start = start;
            counter.count = 0;
        }
        if (counter.count >= config.limit()) {
            return false;
        }
        counter.count++;
        return true;
    }

    public synchronized int trackedClients() {
        long now = clock.nowMillis();
        counters.entrySet().removeIf(e ->
                e.getValue().count == 0
                        || e.getValue().start + overrides.getOrDefault(e.getKey(), defaults).window() <= now);
        return counters.size();
    }
}
