import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * "Thread-safe" because every field is a concurrent collection or an atomic,
 * so no locks are needed.
 */
public final class LruCache<K, V> {

    public record Stats(long hits, long misses, long evictions, long expirations) {}

    private record Item<V>(V value, long expiresAt) { // expiresAt 0: never
        boolean expired(long now) {
            return expiresAt != 0 && now >= expiresAt;
        }
    }

    private final int capacity;
    private final Clock clock;
    private final ConcurrentHashMap<K, Item<V>> values = new ConcurrentHashMap<>();
    private final ConcurrentLinkedDeque<K> order = new ConcurrentLinkedDeque<>();
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private final AtomicLong evictions = new AtomicLong();
    private final AtomicLong expirations = new AtomicLong();

    public LruCache(int capacity, Clock clock) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1");
        }
        this.capacity = capacity;
        this.clock = clock;
    }

    public Optional<V> get(K key) {
        Item<V> item = values.get(key);
        if (item == null) {
            misses.incrementAndGet();
            return Optional.empty();
        }
        if (item.expired(clock.millis())) {
            values.remove(key);
            order.remove(key);
            misses.incrementAndGet();
            expirations.incrementAndGet();
            return Optional.empty();
        }
        order.remove(key);
        order.addLast(key);
        hits.incrementAndGet();
        return Optional.of(item.value());
    }

    public void put(K key, V value, Duration ttl) {
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("negative ttl");
        }
        long now = clock.millis();
        Item<V> fresh = new Item<>(value, ttl.isZero() ? 0 : now + ttl.toMillis());
        Item<V> old = values.put(key, fresh);
        if (old != null) {
            if (old.expired(now)) {
                expirations.incrementAndGet();
            }
            order.remove(key);
            order.addLast(key);
            return;
        }
        order.addLast(key);
        if (values.size() > capacity) {
            K eldest = order.pollFirst();
            if (eldest != null) {
                Item<V> gone = values.remove(eldest);
                if (gone != null && gone.expired(now)) {
                    expirations.incrementAndGet();
                } else {
                    evictions.incrementAndGet();
                }
            }
        }
    }

    public boolean remove(K key) {
        Item<V> item = values.remove(key);
        if (item == null) {
            return false;
        }
        order.remove(key);
        if (item.expired(clock.millis())) {
            expirations.incrementAndGet();
            return false;
        }
        return true;
    }

    public int size() {
        return values.size();
    }

    public Stats stats() {
        return new Stats(hits.get(), misses.get(), evictions.get(), expirations.get());
    }
}
