import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * A thread-safe LRU cache with per-entry TTLs and hit/miss statistics.
 * Every public method must be safe to call from several threads at once.
 */
public final class LruCache<K, V> {

    /** A snapshot of the counters. */
    public record Stats(long hits, long misses, long evictions, long expirations) {}

    /** @throws IllegalArgumentException if capacity < 1 */
    public LruCache(int capacity, Clock clock) {
        // TODO
    }

    /** The live value for key, or Optional.empty() on a miss. */
    public Optional<V> get(K key) {
        // TODO
        return Optional.empty();
    }

    /**
     * Stores value under key. Duration.ZERO means the entry never expires.
     * @throws IllegalArgumentException if ttl is negative
     */
    public void put(K key, V value, Duration ttl) {
        // TODO
    }

    /** Removes key; true only if a live entry was removed. */
    public boolean remove(K key) {
        // TODO
        return false;
    }

    /** Number of stored entries, including expired ones not yet removed. */
    public int size() {
        // TODO
        return 0;
    }

    /** A snapshot of the counters. */
    public Stats stats() {
        // TODO
        return new Stats(0, 0, 0, 0);
    }
}
