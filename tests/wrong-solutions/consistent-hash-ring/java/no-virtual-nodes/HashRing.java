import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToLongFunction;

/** WRONG: each node sits on the ring once, at the hash of its name; the
 *  vnodes argument is ignored, so keys are split very unevenly. */
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

    private final ToLongFunction<String> hash;
    private final TreeMap<Long, String> ring = new TreeMap<>(Long::compareUnsigned);

    public HashRing() { this(DEFAULT_VNODES); }

    public HashRing(int vnodes) { this(vnodes, HashRing::hash64); }

    public HashRing(int vnodes, ToLongFunction<String> hash) {
        if (vnodes < 1) throw new IllegalArgumentException("vnodes must be >= 1");
        this.hash = hash;
    }

    public synchronized boolean addNode(String name) {
        if (ring.containsValue(name)) return false;
        ring.put(hash.applyAsLong(name), name);
        return true;
    }

    public synchronized boolean removeNode(String name) {
        return ring.values().remove(name);
    }

    public synchronized String getNode(String key) {
        List<String> one = getNodes(key, 1);
        return one.isEmpty() ? null : one.get(0);
    }

    public synchronized List<String> getNodes(String key, int n) {
        List<String> out = new ArrayList<>();
        if (n <= 0 || ring.isEmpty()) return out;
        long h = hash.applyAsLong(key);
        for (String node : ring.tailMap(h, true).values()) {
            if (out.size() < n) out.add(node);
        }
        for (String node : ring.headMap(h, false).values()) {
            if (out.size() < n) out.add(node);
        }
        return out;
    }

    public synchronized List<String> nodes() {
        List<String> out = new ArrayList<>(ring.values());
        out.sort(null);
        return out;
    }

    public synchronized int size() { return ring.size(); }
}
