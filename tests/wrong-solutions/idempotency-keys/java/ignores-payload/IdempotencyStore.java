import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * Wrong: never compares payloads: a reused key always gets the first response back,
 * even when the request body is different.
 */
public class IdempotencyStore {

    /** Tells the store the current time in milliseconds. Tests inject a fake. */
    public interface Clock {
        long nowMillis();
    }

    /** The key was already used with a different payload (stored or still in flight). */
    public static class ConflictException extends RuntimeException {
        public ConflictException(String message) {
            super(message);
        }
    }

    private record Scope(String clientId, String key) {}

    /** One key: in flight until {@code done} opens, then stored (error == null) or already removed. */
    private static final class Entry {
        final Scope scope;
        final String payload;
        final CountDownLatch done = new CountDownLatch(1);
        String response;
        Throwable error;
        long storedAt;

        Entry(Scope scope, String payload) {
            this.scope = scope;
            this.payload = payload;
        }
    }

    private final Clock clock;
    private final long ttlMillis;
    private final Map<Scope, Entry> entries = new HashMap<>(); // in flight or stored
    private final ArrayDeque<Entry> stored = new ArrayDeque<>(); // stored entries, oldest first

    public IdempotencyStore(Clock clock, long ttlMillis) {
        if (ttlMillis <= 0) {
            throw new IllegalArgumentException("ttlMillis must be positive, got " + ttlMillis);
        }
        this.clock = Objects.requireNonNull(clock, "clock");
        this.ttlMillis = ttlMillis;
    }

    public String execute(String clientId, String key, String payload, Callable<String> handler) throws Exception {
        Scope scope = new Scope(clientId, key);
        Entry entry;
        boolean owner;
        synchronized (this) {
            evictExpired();
            entry = entries.get(scope);
            owner = entry == null;
            if (owner) {
                entry = new Entry(scope, payload);
                entries.put(scope, entry);
            }
        }

        if (!owner) {
            entry.done.await(); // returns at once for a stored entry
            if (entry.error != null) {
                throw rethrow(entry.error);
            }
            return entry.response;
        }

        // The handler runs without the lock: other keys are never blocked by it.
        String response;
        try {
            response = handler.call();
        } catch (Throwable error) {
            synchronized (this) {
                entries.remove(scope); // nothing stored: the next retry runs again
                entry.error = error;
            }
            entry.done.countDown();
            throw error;
        }
        synchronized (this) {
            entry.response = response;
            entry.storedAt = clock.nowMillis();
            stored.addLast(entry);
        }
        entry.done.countDown(); // wakes the duplicates waiting for this execution
        return response;
    }

    /** Number of keys held: in flight, or stored and not yet expired. */
    public synchronized int size() {
        evictExpired();
        return entries.size();
    }

    /**
     * Entries are stored in time order, so only the oldest can have expired: each entry
     * is looked at once when it goes, O(1) amortized per call. Caller holds the lock.
     */
    private void evictExpired() {
        long now = clock.nowMillis();
        while (!stored.isEmpty() && now >= stored.peekFirst().storedAt + ttlMillis) {
            Entry oldest = stored.pollFirst();
            entries.remove(oldest.scope, oldest);
        }
    }

    private static Exception rethrow(Throwable error) {
        if (error instanceof Error e) {
            throw e;
        }
        return (Exception) error;
    }
}
