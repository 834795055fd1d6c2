import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Sliding-window log that logs every request, admitted or rejected: a client that keeps
 * hammering while over its limit stays blocked, because its rejected requests fill the window.
 */
public class RateLimiter {

    /** Current time in milliseconds; never goes backwards. */
    public interface Clock {
        long nowMillis();
    }

    private record Config(int limit, long window) {
        Config {
            if (limit < 1) {
                throw new IllegalArgumentException("limit must be at least 1, got " + limit);
            }
            if (window < 1) {
                throw new IllegalArgumentException("window must be at least 1 ms, got " + window);
            }
        }
    }

    private static final class ClientState {
        final String id;
        final Config config;
        final ArrayDeque<Long> times = new ArrayDeque<>(); // admitted times in the window, oldest first

        ClientState(String id, Config config) {
            this.id = id;
            this.config = config;
        }
    }

    private final Clock clock;
    private final Config defaults;
    private final Map<String, Config> overrides = new HashMap<>();
    private final Map<String, ClientState> clients = new HashMap<>(); // tracked clients only
    /** window -> clients with that window, least recently admitted first. */
    private final Map<Long, LinkedHashMap<String, ClientState>> groups = new HashMap<>();

    public RateLimiter(Clock clock, int defaultLimit, long defaultWindowMillis) {
        this.clock = clock;
        this.defaults = new Config(defaultLimit, defaultWindowMillis);
    }

    /** Overrides the limit and window of one client and clears its history. */
    public synchronized void setClientLimit(String clientId, int limit, long windowMillis) {
        overrides.put(clientId, new Config(limit, windowMillis));
        ClientState state = clients.get(clientId);
        if (state != null) {
            release(state);
        }
    }

    /** Admits the request if fewer than {@code limit} admitted requests lie in (now - window, now]. */
    public synchronized boolean allow(String clientId) {
        // Read the clock under the lock so recorded times never go backwards.
        long now = clock.nowMillis();
        releaseIdle(now);
        ClientState state = clients.get(clientId);
        if (state == null) {
            state = new ClientState(clientId, overrides.getOrDefault(clientId, defaults));
            clients.put(clientId, state);
        }
        ArrayDeque<Long> times = state.times;
        long oldestAllowed = now - state.config.window(); // times <= this are outside the window
        while (!times.isEmpty() && times.peekFirst() <= oldestAllowed) {
            times.pollFirst();
        }
        boolean admitted = times.size() < state.config.limit();
        times.addLast(now); // every request is logged, admitted or not
        if (!admitted) {
            return false;
        }
        LinkedHashMap<String, ClientState> group =
                groups.computeIfAbsent(state.config.window(), w -> new LinkedHashMap<>());
        group.remove(clientId); // re-insert to move it to the end
        group.put(clientId, state);
        return true;
    }

    /** Number of clients with at least one admitted request inside their window. */
    public synchronized int trackedClients() {
        releaseIdle(clock.nowMillis());
        return clients.size();
    }

    private void releaseIdle(long now) {
        Iterator<Map.Entry<Long, LinkedHashMap<String, ClientState>>> groupIt = groups.entrySet().iterator();
        while (groupIt.hasNext()) {
            Map.Entry<Long, LinkedHashMap<String, ClientState>> entry = groupIt.next();
            long window = entry.getKey();
            Iterator<ClientState> it = entry.getValue().values().iterator();
            while (it.hasNext()) {
                ClientState state = it.next();
                if (state.times.peekLast() + window > now) {
                    break; // the rest of this group was admitted later
                }
                it.remove();
                clients.remove(state.id);
            }
            if (entry.getValue().isEmpty()) {
                groupIt.remove();
            }
        }
    }

    private void release(ClientState state) {
        clients.remove(state.id);
        LinkedHashMap<String, ClientState> group = groups.get(state.config.window());
        group.remove(state.id);
        if (group.isEmpty()) {
            groups.remove(state.config.window());
        }
    }
}
