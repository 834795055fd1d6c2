import java.util.ArrayList;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * A consistent hash ring with virtual nodes. Implement everything marked TODO;
 * see the statement for the exact rules (hash function, virtual node labels,
 * tie-breaking, thread safety).
 */
public final class HashRing {
    public static final int DEFAULT_VNODES = 160;

    /** First 8 bytes of MD5(UTF-8(s)) read big-endian (compare with Long.compareUnsigned). */
    public static long hash64(String s) {
        // TODO
        return 0L;
    }

    private final int vnodes;
    private final ToLongFunction<String> hash;

    public HashRing() {
        this(DEFAULT_VNODES);
    }

    public HashRing(int vnodes) {
        this(vnodes, HashRing::hash64);
    }

    /** @param hash maps a string to a ring position; its long result is read as unsigned. */
    public HashRing(int vnodes, ToLongFunction<String> hash) {
        // TODO: reject vnodes < 1 with IllegalArgumentException
        this.vnodes = vnodes;
        this.hash = hash;
    }

    /** Places name#0 .. name#(vnodes-1) on the ring; false if already a member. */
    public boolean addNode(String name) {
        // TODO
        return false;
    }

    /** Removes the node and all its virtual nodes; false if not a member. */
    public boolean removeNode(String name) {
        // TODO
        return false;
    }

    /** The first virtual node clockwise from hash(key), inclusive; null when the ring is empty. */
    public String getNode(String key) {
        // TODO
        return null;
    }

    /** Up to n distinct physical nodes met walking clockwise from hash(key); empty when n <= 0. */
    public List<String> getNodes(String key, int n) {
        // TODO
        return new ArrayList<>();
    }

    /** Member names in ascending order. */
    public List<String> nodes() {
        // TODO
        return new ArrayList<>();
    }

    /** Number of physical nodes. */
    public int size() {
        // TODO
        return 0;
    }
}
