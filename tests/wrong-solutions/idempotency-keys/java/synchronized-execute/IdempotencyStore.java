import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Wrong: execute() is synchronized, so the handler runs while holding the store's lock.
 * Duplicates are handled correctly, but a slow handler for one key blocks every other
 * key (and size()) until it finishes.
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

    private record Stored(String payload, String response, long storedAt) {}

    private final Clock clock;
    private final long ttlMillis;
    private final LinkedHashMap<String, Stored> responses = new LinkedHashMap<>();

    public IdempotencyStore(Clock clock, long ttlMillis) {
        if (ttlMillis <= 0) {
            throw new IllegalArgumentException("ttlMillis must be positive");
        }
        this.clock = clock;
        this.ttlMillis = ttlMillis;
    }

    public synchronized String execute(String clientId, String key, String payload, Callable<String> handler) throws Exception {
        evictExpired();
        String id = clientId.length() + "#" + clientId + key; // length prefix: unambiguous
        Stored stored = responses.get(id);
        if (stored != null) {
            if (!stored.payload().equals(payload)) {
                throw new ConflictException("key reused with a different payload");
            }
            return stored.response();
        }
        String response = handler.call();
        responses.put(id, new Stored(payload, response, clock.nowMillis()));
        return response;
    }

    public synchronized int size() {
        evictExpired();
        return responses.size();
    }

    private void evictExpired() {
        long now = clock.nowMillis();
        Iterator<Map.Entry<String, Stored>> it = responses.entrySet().iterator();
        while (it.hasNext()) {
            if (now < it.next().getValue().storedAt() + ttlMillis) {
                return; // insertion order is storage order
            }
            it.remove();
        }
    }
}
