import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Sliding-window log with "fine-grained" concurrency: clients live in a ConcurrentHashMap and
 * only the idle-client bookkeeping is locked. The per-client evict / check / append on the
 * ArrayDeque runs unlocked, so two threads can both see room for one more request (and
 * ArrayDeque itself is not thread-safe).
 */
public class RateLimiter {
    public interface Clock {
        long nowMillis();
    }

    private record Config(int limit, long window) {}

    private static final class ClientState {
        final String id;
        final Config config;
        final ArrayDeque<Long> times = new ArrayDeque<>();

        ClientState(String id, Config config) {
            this.id = id;
            this.config = config;
        }
    }

    private final Clock clock;
    private final Config defaults;
    private final Map<String, Config> overrides = new ConcurrentHashMap<>();
    private final Map<String, ClientState> clients = new ConcurrentHashMap<>();
    private final Map<Long, LinkedHashMap<String, ClientState>> groups = new HashMap<>(); // guarded by itself

    public RateLimiter(Clock clock, int defaultLimit, long defaultWindowMillis) {
        if (defaultLimit < 1 || defaultWindowMillis < 1) {
            throw new IllegalArgumentException("limit and window must be positive");
        }
        this.clock = clock;
        this.defaults = new Config(defaultLimit, defaultWindowMillis);
    }

    public void setClientLimit(String clientId, int limit, long windowMillis) {
        if (limit < 1 || windowMillis < 1) {
            throw new IllegalArgumentException("limit and window must be positive");
        }
        overrides.put(clientId, new Config(limit, windowMillis));
        ClientState state = clients.remove(clientId);
        if (state != null) {
            synchronized (groups) {
                LinkedHashMap<String, ClientState> group = groups.get(state.config.window());
                if (group != null) {
                    group.remove(clientId);
                }
            }
        }
    }

    public boolean allow(String clientId) {
        long now = clock.nowMillis();
        releaseIdle(now);
        ClientState state = clients.computeIfAbsent(clientId,
                id -> new ClientState(id, overrides.getOrDefault(id, defaults)));
        ArrayDeque<Long> times = state.times;
        while (!times.isEmpty() && times.peekFirst() <= now - state.config.window()) {
            times.pollFirst();
        }
        if (times.size() >= state.config.limit()) {
            return false;
        }
        times.addLast(now);
        synchronized (groups) {
            LinkedHashMap<String, ClientState> group =
                    groups.computeIfAbsent(state.config.window(), w -> new LinkedHashMap<>());
            group.remove(clientId);
            group.put(clientId, state);
        }
        return true;
    }

    public int trackedClients() {
        releaseIdle(clock.nowMillis());
        return clients.size();
    }

    private void releaseIdle(long now) {
        synchronized (groups) {
            for (Map.Entry<Long, LinkedHashMap<String, ClientState>> entry : groups.entrySet()) {
                Iterator<ClientState> it = entry.getValue().values().iterator();
                while (it.hasNext()) {
                    ClientState state = it.next();
                    Long last = state.times.peekLast();
                    if (last != null && last + entry.getKey() > now) {
                        break;
                    }
                    it.remove();
                    clients.remove(state.id, state);
                }
            }
        }
    }
}
