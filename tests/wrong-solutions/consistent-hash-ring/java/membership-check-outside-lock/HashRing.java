import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.concurrent.ConcurrentHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.ToLongFunction;

/** WRONG: the ring is changed under a lock and published as a snapshot, but
 *  the "is it already a member?" check runs before taking the lock, so two
 *  threads adding (or removing) the same node can both succeed. */
public class HashRing {
    public static final int DEFAULT_VNODES = 160;

    public static long hash64(String s) {
        try {
            MessageDigest md = MessageDigest.getInstance("MD5");
            return ByteBuffer.wrap(md.digest(s.getBytes(StandardCharsets.UTF_8))).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new RuntimeException(e);
        }
    }

    private static final class Point implements Comparable<Point> {
        final long pos;
        final String node;

        Point(long pos, String node) {
            this.pos = pos;
            this.node = node;
        }

        @Override
        public int compareTo(Point o) {
            int c = Long.compareUnsigned(pos, o.pos);
            return c != 0 ? c : node.compareTo(o.node);
        }
    }

    private final int vnodes;
    private final ToLongFunction<String> hash;
    private final Object lock = new Object();
    private volatile List<Point> points = new ArrayList<>();
    private final Set<String> members = ConcurrentHashMap.newKeySet();

    public HashRing() { this(DEFAULT_VNODES); }

    public HashRing(int vnodes) { this(vnodes, HashRing::hash64); }

    public HashRing(int vnodes, ToLongFunction<String> hash) {
        if (vnodes < 1) throw new IllegalArgumentException("vnodes must be >= 1");
        this.vnodes = vnodes;
        this.hash = hash;
    }

    public boolean addNode(String name) {
        if (members.contains(name)) return false;
        List<Point> added = new ArrayList<>();
        for (int i = 0; i < vnodes; i++) {
            added.add(new Point(hash.applyAsLong(name + "#" + i), name));
        }
        synchronized (lock) {
            members.add(name);
            List<Point> next = new ArrayList<>(points);
            next.addAll(added);
            Collections.sort(next);
            points = next;
        }
        return true;
    }

    public boolean removeNode(String name) {
        if (!members.contains(name)) return false;
        synchronized (lock) {
            members.remove(name);
            List<Point> next = new ArrayList<>(points);
            next.removeIf(p -> p.node.equals(name));
            points = next;
        }
        return true;
    }

    private static int start(List<Point> points, long h) {
        int lo = 0, hi = points.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(points.get(mid).pos, h) < 0) lo = mid + 1;
            else hi = mid;
        }
        return lo == points.size() ? 0 : lo;
    }

    public String getNode(String key) {
        List<Point> points = this.points;
        if (points.isEmpty()) return null;
        return points.get(start(points, hash.applyAsLong(key))).node;
    }

    public List<String> getNodes(String key, int n) {
        List<Point> points = this.points;
        List<String> out = new ArrayList<>();
        int want = Math.min(n, members.size());
        if (want <= 0 || points.isEmpty()) return out;
        int s = start(points, hash.applyAsLong(key));
        for (int i = 0; i < points.size() && out.size() < want; i++) {
            String node = points.get((s + i) % points.size()).node;
            if (!out.contains(node)) out.add(node);
        }
        return out;
    }

    public List<String> nodes() {
        List<String> out = new ArrayList<>(members);
        Collections.sort(out);
        return out;
    }

    public int size() { return members.size(); }
}
