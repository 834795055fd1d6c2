import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedList;
import java.util.Map;
import java.util.Optional;

/** LRU cache: a HashMap for the values, a LinkedList for the recency order. */
public final class LruCache<K, V> {

    public record Stats(long hits, long misses, long evictions, long expirations) {}

    private static final class Item<V> {
        V value;
        long expiresAt; // 0: never

        Item(V value, long expiresAt) {
            this.value = value;
            this.expiresAt = expiresAt;
        }
    }

    private final int capacity;
    private final Clock clock;
    private final Map<K, Item<V>> values = new HashMap<>();
    private final LinkedList<K> order = new LinkedList<>(); // least recently used first
    private long hits, misses, evictions, expirations;

    public LruCache(int capacity, Clock clock) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1");
        }
        this.capacity = capacity;
        this.clock = clock;
    }

    private static boolean expired(Item<?> item, long now) {
        return item.expiresAt != 0 && now >= item.expiresAt;
    }

    public synchronized Optional<V> get(K key) {
        Item<V> item = values.get(key);
        if (item == null) {
            misses++;
            return Optional.empty();
        }
        order.remove(key);
        if (expired(item, clock.millis())) {
            values.remove(key);
            misses++;
            expirations++;
            return Optional.empty();
        }
        order.addLast(key);
        hits++;
        return Optional.of(item.value);
    }

    public synchronized void put(K key, V value, Duration ttl) {
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("negative ttl");
        }
        long now = clock.millis();
        long expiresAt = ttl.isZero() ? 0 : now + ttl.toMillis();
        Item<V> old = values.get(key);
        if (old != null) {
            if (expired(old, now)) {
                expirations++;
            }
            order.remove(key);
        } else if (values.size() >= capacity) {
            K eldest = order.removeFirst();
            if (expired(values.remove(eldest), now)) {
                expirations++;
            } else {
                evictions++;
            }
        }
        values.put(key, new Item<>(value, expiresAt));
        order.addLast(key);
    }

    public synchronized boolean remove(K key) {
        Item<V> item = values.remove(key);
        if (item == null) {
            return false;
        }
        order.remove(key);
        if (expired(item, clock.millis())) {
            expirations++;
            return false;
        }
        return true;
    }

    public synchronized int size() {
        return values.size();
    }

    public synchronized Stats stats() {
        return new Stats(hits, misses, evictions, expirations);
    }
}
