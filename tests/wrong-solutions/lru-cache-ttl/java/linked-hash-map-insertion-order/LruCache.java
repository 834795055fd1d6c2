import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** LRU cache on top of LinkedHashMap, which keeps the entries in order. */
public final class LruCache<K, V> {

    public record Stats(long hits, long misses, long evictions, long expirations) {}

    private record Entry<V>(V value, Instant expiresAt) {
        boolean isExpired(Instant now) {
            return expiresAt != null && !now.isBefore(expiresAt);
        }
    }

    private final int capacity;
    private final Clock clock;
    private final LinkedHashMap<K, Entry<V>> map = new LinkedHashMap<>();
    private long hits, misses, evictions, expirations;

    public LruCache(int capacity, Clock clock) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1");
        }
        this.capacity = capacity;
        this.clock = clock;
    }

    public synchronized Optional<V> get(K key) {
        Entry<V> e = map.get(key);
        if (e == null) {
            misses++;
            return Optional.empty();
        }
        if (e.isExpired(clock.instant())) {
            map.remove(key);
            misses++;
            expirations++;
            return Optional.empty();
        }
        hits++;
        return Optional.of(e.value());
    }

    public synchronized void put(K key, V value, Duration ttl) {
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("negative ttl");
        }
        Instant now = clock.instant();
        Entry<V> fresh = new Entry<>(value, ttl.isZero() ? null : now.plus(ttl));
        Entry<V> old = map.remove(key);
        if (old != null) {
            if (old.isExpired(now)) {
                expirations++;
            }
        } else if (map.size() >= capacity) {
            Iterator<Map.Entry<K, Entry<V>>> it = map.entrySet().iterator();
            Entry<V> eldest = it.next().getValue();
            it.remove();
            if (eldest.isExpired(now)) {
                expirations++;
            } else {
                evictions++;
            }
        }
        map.put(key, fresh);
    }

    public synchronized boolean remove(K key) {
        Entry<V> e = map.remove(key);
        if (e == null) {
            return false;
        }
        if (e.isExpired(clock.instant())) {
            expirations++;
            return false;
        }
        return true;
    }

    public synchronized int size() {
        return map.size();
    }

    public synchronized Stats stats() {
        return new Stats(hits, misses, evictions, expirations);
    }
}
