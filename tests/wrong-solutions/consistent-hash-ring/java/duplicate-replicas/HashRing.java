import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.ToLongFunction;

/** WRONG: getNodes returns the owners of the next n virtual nodes, so one
 *  physical node can appear several times. */
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

    private record Point(long position, String node) {}

    /** Ring order: unsigned position, ties broken by node name. */
    private static final Comparator<Point> RING_ORDER = (a, b) -> {
        int byPosition = Long.compareUnsigned(a.position(), b.position());
        return byPosition != 0 ? byPosition : a.node().compareTo(b.node());
    };

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
            List<Point> points = new ArrayList<>(s.positions().length + vnodes);
            for (int i = 0; i < s.positions().length; i++) {
                points.add(new Point(s.positions()[i], s.owners()[i]));
            }
            for (int i = 0; i < vnodes; i++) {
                points.add(new Point(hash.applyAsLong(name + "#" + i), name));
            }
            points.sort(RING_ORDER);
            Set<String> members = new HashSet<>(s.members());
            members.add(name);
            snapshot = build(points, members);
            return true;
        }
    }

    public boolean removeNode(String name) {
        synchronized (writeLock) {
            Snapshot s = snapshot;
            if (!s.members().contains(name)) {
                return false;
            }
            List<Point> kept = new ArrayList<>(s.positions().length);
            for (int i = 0; i < s.positions().length; i++) {
                if (!s.owners()[i].equals(name)) {
                    kept.add(new Point(s.positions()[i], s.owners()[i]));
                }
            }
            Set<String> members = new HashSet<>(s.members());
            members.remove(name);
            snapshot = build(kept, members);
            return true;
        }
    }

    private static Snapshot build(List<Point> sorted, Set<String> members) {
        long[] positions = new long[sorted.size()];
        String[] owners = new String[sorted.size()];
        for (int i = 0; i < positions.length; i++) {
            positions[i] = sorted.get(i).position();
            owners[i] = sorted.get(i).node();
        }
        return new Snapshot(positions, owners, Set.copyOf(members));
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
        int start = search(s.positions(), hash.applyAsLong(key));
        for (int step = 0; step < want; step++) {
            out.add(owners[(start + step) % owners.length]);
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
