import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Wrong: a ConcurrentHashMap makes each get and put thread-safe, but "get, and if absent
 * run the handler and put" is not atomic: concurrent duplicates all see no response and
 * all run the handler.
 */
public class IdempotencyStore {

    public interface Clock {
        long nowMillis();
    }

    public static class ConflictException extends RuntimeException {
        public ConflictException(String message) {
            super(message);
        }
    }

    private record Scope(String clientId, String key) {}

    private record Stored(Scope scope, String payload, String response, long storedAt) {}

    private final Clock clock;
    private final long ttlMillis;
    private final Map<Scope, Stored> responses = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Stored> byAge = new ConcurrentLinkedQueue<>();

    public IdempotencyStore(Clock clock, long ttlMillis) {
        if (ttlMillis <= 0) {
            throw new IllegalArgumentException("ttlMillis must be positive");
        }
        this.clock = clock;
        this.ttlMillis = ttlMillis;
    }

    public String execute(String clientId, String key, String payload, Callable<String> handler) throws Exception {
        evictExpired();
        Scope scope = new Scope(clientId, key);
        Stored stored = responses.get(scope);
        if (stored != null) {
            if (!stored.payload().equals(payload)) {
                throw new ConflictException("key reused with a different payload");
            }
            return stored.response();
        }
        String response = handler.call();
        Stored fresh = new Stored(scope, payload, response, clock.nowMillis());
        responses.put(scope, fresh);
        byAge.add(fresh);
        return response;
    }

    public int size() {
        evictExpired();
        return responses.size();
    }

    private void evictExpired() {
        long now = clock.nowMillis();
        Stored oldest;
        while ((oldest = byAge.peek()) != null && now >= oldest.storedAt() + ttlMillis) {
            byAge.poll();
            responses.remove(oldest.scope(), oldest);
        }
    }
}
