import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Exact sliding-window log, but idle clients are only skipped when counting, never removed:
 * memory grows with every client ever seen, and trackedClients() scans them all.
 */
public class RateLimiter {
    public interface Clock {
        long nowMillis();
    }

    private record Config(int limit, long window) {}

    private final Clock clock;
    private final Config defaults;
    private final Map<String, Config> overrides = new HashMap<>();
    private final Map<String, ArrayDeque<Long>> logs = new HashMap<>();

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
        logs.remove(clientId);
    }

    public synchronized boolean allow(String clientId) {
        long now = clock.nowMillis();
        Config config = overrides.getOrDefault(clientId, defaults);
        ArrayDeque<Long> log = logs.computeIfAbsent(clientId, id -> new ArrayDeque<>());
        while (!log.isEmpty() && log.peekFirst() <= now - config.window()) {
            log.pollFirst();
        }
        if (log.size() >= config.limit()) {
            return false;
        }
        log.addLast(now);
        return true;
    }

    public synchronized int trackedClients() {
        long now = clock.nowMillis();
        int n = 0;
        for (Map.Entry<String, ArrayDeque<Long>> e : logs.entrySet()) {
            Long last = e.getValue().peekLast();
            if (last != null && last > now - overrides.getOrDefault(e.getKey(), defaults).window()) {
                n++;
            }
        }
        return n;
    }
}
