import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * Wrong: correct behaviour, but every call walks the whole map (removeIf) to drop expired
 * keys, so each request costs O(number of keys held).
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

    private static final class Entry {
        final String payload;
        final CountDownLatch done = new CountDownLatch(1);
        volatile String response;
        volatile Exception error;
        volatile boolean stored;
        volatile long storedAt;

        Entry(String payload) {
            this.payload = payload;
        }
    }

    private final Clock clock;
    private final long ttlMillis;
    private final Map<Scope, Entry> entries = new HashMap<>();

    public IdempotencyStore(Clock clock, long ttlMillis) {
        if (ttlMillis <= 0) {
            throw new IllegalArgumentException("ttlMillis must be positive");
        }
        this.clock = clock;
        this.ttlMillis = ttlMillis;
    }

    private void cleanup() {
        long now = clock.nowMillis();
        entries.values().removeIf(e -> e.stored && now >= e.storedAt + ttlMillis);
    }

    public String execute(String clientId, String key, String payload, Callable<String> handler) throws Exception {
        Scope scope = new Scope(clientId, key);
        Entry entry;
        boolean owner;
        synchronized (this) {
            cleanup();
            entry = entries.get(scope);
            owner = entry == null;
            if (owner) {
                entry = new Entry(payload);
                entries.put(scope, entry);
            }
        }
        if (!owner) {
            if (!Objects.equals(entry.payload, payload)) {
                throw new ConflictException("key reused with a different payload");
            }
            entry.done.await();
            if (entry.error != null) {
                throw entry.error;
            }
            return entry.response;
        }
        try {
            String response = handler.call();
            synchronized (this) {
                entry.response = response;
                entry.storedAt = clock.nowMillis();
                entry.stored = true;
            }
            return response;
        } catch (Exception e) {
            synchronized (this) {
                entries.remove(scope);
            }
            entry.error = e;
            throw e;
        } finally {
            entry.done.countDown();
        }
    }

    public synchronized int size() {
        cleanup();
        return entries.size();
    }
}
