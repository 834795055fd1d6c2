import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Wrong: runs the handler inside ConcurrentHashMap.computeIfAbsent. That does run it once
 * per key, but every other caller of the same key, whatever its payload, blocks inside
 * computeIfAbsent until the handler finishes: a different payload waits instead of getting
 * a conflict at once.
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
    private final ConcurrentHashMap<Scope, Stored> responses = new ConcurrentHashMap<>();
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
        Stored stored;
        try {
            stored = responses.computeIfAbsent(scope, s -> {
                try {
                    Stored fresh = new Stored(s, payload, handler.call(), clock.nowMillis());
                    byAge.add(fresh);
                    return fresh;
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
        } catch (CompletionException e) {
            throw (Exception) e.getCause();
        }
        if (!stored.payload().equals(payload)) {
            throw new ConflictException("key reused with a different payload");
        }
        return stored.response();
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
