import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.ToLongFunction;

/**
 * A consistent hash ring with virtual nodes.
 *
 * <p>Thread-safe: writers are serialised on a lock and publish an immutable
 * snapshot through a volatile field; readers never block and always see a
 * complete ring.
 */
public final class HashRing {
    public static final int DEFAULT_VNODES = 160;

    private static final ThreadLocal<MessageDigest> MD5 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is always available", e);
        }
    });

    /** First 8 bytes of MD5(UTF-8(s)) read big-endian; compare results with Long.compareUnsigned. */
    public static long hash64(String s) {
        byte[] digest = MD5.get().digest(s.getBytes(StandardCharsets.UTF_8));
        return ByteBuffer.wrap(digest, 0, 8).getLong();
    }

    /** Ring order: unsigned position, ties broken by node name. */
    private static boolean precedes(long posA, String nodeA, long posB, String nodeB) {
        int byPosition = Long.compareUnsigned(posA, posB);
        return byPosition < 0 || (byPosition == 0 && nodeA.compareTo(nodeB) < 0);
    }

    /** Immutable view of the ring: positions ascending (unsigned), owners[i] owns positions[i]. */
    private record Snapshot(long[] positions, String[] owners, Set<String> members) {}

    private static final Snapshot EMPTY = new Snapshot(new long[0], new String[0], Set.of());

    private final int vnodes;
    private final ToLongFunction<String> hash;
    private final Object writeLock = new Object();
    private volatile Snapshot snapshot = EMPTY;

    public HashRing() {
        this(DEFAULT_VNODES);
    }

    public HashRing(int vnodes) {
        this(vnodes, HashRing::hash64);
    }

    /** @param hash maps a string to a ring position; its long result is read as unsigned. */
    public HashRing(int vnodes, ToLongFunction<String> hash) {
        if (vnodes < 1) {
            throw new IllegalArgumentException("vnodes must be >= 1, got " + vnodes);
        }
        this.vnodes = vnodes;
        this.hash = hash;
    }

    public boolean addNode(String name) {
        synchronized (writeLock) {
            Snapshot s = snapshot;
            if (s.members().contains(name)) {
                return false;
            }
            // Sort the new positions as unsigned values: flipping the sign bit
            // maps unsigned order onto signed order.
            long[] added = new long[vnodes];
            for (int i = 0; i < vnodes; i++) {
                added[i] = hash.applyAsLong(name + "#" + i) ^ Long.MIN_VALUE;
            }
            Arrays.sort(added);
            for (int i = 0; i < vnodes; i++) {
                added[i] ^= Long.MIN_VALUE;
            }
            // Merge them into the current ring: O(P + V log V).
            long[] oldPositions = s.positions();
            String[] oldOwners = s.owners();
            int total = oldPositions.length + vnodes;
            long[] positions = new long[total];
            String[] owners = new String[total];
            for (int i = 0, j = 0, k = 0; k < total; k++) {
                boolean takeNew = j < vnodes
                        && (i == oldPositions.length || precedes(added[j], name, oldPositions[i], oldOwners[i]));
                if (takeNew) {
                    positions[k] = added[j++];
                    owners[k] = name;
                } else {
                    positions[k] = oldPositions[i];
                    owners[k] = oldOwners[i++];
                }
            }
            Set<String> members = new HashSet<>(s.members());
            members.add(name);
            snapshot = new Snapshot(positions, owners, Set.copyOf(members));
            return true;
        }
    }

    public boolean removeNode(String name) {
        synchronized (writeLock) {
            Snapshot s = snapshot;
            if (!s.members().contains(name)) {
                return false;
            }
            int total = s.positions().length - vnodes;
            long[] positions = new long[total];
            String[] owners = new String[total];
            for (int i = 0, k = 0; i < s.positions().length; i++) {
                if (!s.owners()[i].equals(name)) {
                    positions[k] = s.positions()[i];
                    owners[k++] = s.owners()[i];
                }
            }
            Set<String> members = new HashSet<>(s.members());
            members.remove(name);
            snapshot = new Snapshot(positions, owners, Set.copyOf(members));
            return true;
        }
    }

    /** Index of the first position >= pos (unsigned), wrapping to 0. */
    private static int search(long[] positions, long pos) {
        int lo = 0;
        int hi = positions.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(positions[mid], pos) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo == positions.length ? 0 : lo;
    }

    /** The owner of key, or null when the ring is empty. */
    public String getNode(String key) {
        Snapshot s = snapshot;
        if (s.positions().length == 0) {
            return null;
        }
        return s.owners()[search(s.positions(), hash.applyAsLong(key))];
    }

    /** Up to n distinct physical nodes met walking clockwise from key; empty when n <= 0. */
    public List<String> getNodes(String key, int n) {
        Snapshot s = snapshot;
        int want = Math.min(n, s.members().size());
        List<String> out = new ArrayList<>(Math.max(want, 0));
        if (want <= 0) {
            return out;
        }
        String[] owners = s.owners();
        Set<String> seen = new HashSet<>();
        int start = search(s.positions(), hash.applyAsLong(key));
        for (int step = 0; step < owners.length && out.size() < want; step++) {
            String node = owners[(start + step) % owners.length];
            if (seen.add(node)) {
                out.add(node);
            }
        }
        return out;
    }

    /** Member names in ascending order. */
    public List<String> nodes() {
        return new ArrayList<>(new TreeSet<>(snapshot.members()));
    }

    public int size() {
        return snapshot.members().size();
    }
}
