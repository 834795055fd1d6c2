import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * An LRU cache with per-entry TTLs and hit/miss statistics.
 * A hash map finds entries; a doubly linked list keeps them in recency order.
 */
public final class LruCache<K, V> {

    /** A snapshot of the counters. */
    public record Stats(long hits, long misses, long evictions, long expirations) {}

    private static final class Node<K, V> {
        K key;
        V value;
        Instant expiresAt; // null: never expires
        Node<K, V> prev;
        Node<K, V> next;

        boolean isExpired(Instant now) {
            return expiresAt != null && !now.isBefore(expiresAt);
        }
    }

    private final int capacity;
    private final Clock clock;
    private final Map<K, Node<K, V>> index = new HashMap<>();
    // Sentinel of a circular list: head.next is the most recently used entry,
    // head.prev the least recently used one.
    private final Node<K, V> head = new Node<>();
    private long hits;
    private long misses;
    private long evictions;
    private long expirations;

    public LruCache(int capacity, Clock clock) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1, got " + capacity);
        }
        this.capacity = capacity;
        this.clock = Objects.requireNonNull(clock, "clock");
        head.prev = head;
        head.next = head;
    }

    public Optional<V> get(K key) {
        Node<K, V> node = index.get(key);
        if (node == null) {
            misses++;
            return Optional.empty();
        }
        if (node.isExpired(clock.instant())) {
            removeNode(node);
            misses++;
            expirations++;
            return Optional.empty();
        }
        moveToFront(node);
        hits++;
        return Optional.of(node.value);
    }

    public void put(K key, V value, Duration ttl) {
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("ttl must not be negative, got " + ttl);
        }
        Instant now = clock.instant();
        Instant expiresAt = ttl.isZero() ? null : now.plus(ttl);
        Node<K, V> node = index.get(key);
        if (node != null) {
            if (node.isExpired(now)) {
                expirations++;
            }
            node.value = value;
            node.expiresAt = expiresAt;
            moveToFront(node);
            return;
        }
        if (index.size() >= capacity) {
            Node<K, V> lru = head.prev;
            if (lru.isExpired(now)) {
                expirations++;
            } else {
                evictions++;
            }
            removeNode(lru);
        }
        node = new Node<>();
        node.key = key;
        node.value = value;
        node.expiresAt = expiresAt;
        index.put(key, node);
        pushFront(node);
    }

    public boolean remove(K key) {
        Node<K, V> node = index.get(key);
        if (node == null) {
            return false;
        }
        removeNode(node);
        if (node.isExpired(clock.instant())) {
            expirations++;
            return false;
        }
        return true;
    }

    public int size() {
        return index.size();
    }

    public Stats stats() {
        return new Stats(hits, misses, evictions, expirations);
    }

    private void pushFront(Node<K, V> node) {
        node.prev = head;
        node.next = head.next;
        head.next.prev = node;
        head.next = node;
    }

    private void unlink(Node<K, V> node) {
        node.prev.next = node.next;
        node.next.prev = node.prev;
        node.prev = null;
        node.next = null;
    }

    private void moveToFront(Node<K, V> node) {
        if (head.next != node) {
            unlink(node);
            pushFront(node);
        }
    }

    private void removeNode(Node<K, V> node) {
        unlink(node);
        index.remove(node.key);
    }
}
