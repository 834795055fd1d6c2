import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.ToLongFunction;

/** WRONG: picks members[hash(key) mod N] from the sorted members instead of
 *  using a ring, so most keys move whenever a node joins or leaves. */
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
    private final TreeSet<String> members = new TreeSet<>();

    public HashRing() { this(DEFAULT_VNODES); }

    public HashRing(int vnodes) { this(vnodes, HashRing::hash64); }

    public HashRing(int vnodes, ToLongFunction<String> hash) {
        if (vnodes < 1) throw new IllegalArgumentException("vnodes must be >= 1");
        this.hash = hash;
    }

    public synchronized boolean addNode(String name) { return members.add(name); }

    public synchronized boolean removeNode(String name) { return members.remove(name); }

    public synchronized String getNode(String key) {
        List<String> one = getNodes(key, 1);
        return one.isEmpty() ? null : one.get(0);
    }

    public synchronized List<String> getNodes(String key, int n) {
        List<String> all = new ArrayList<>(members);
        List<String> out = new ArrayList<>();
        if (all.isEmpty()) return out;
        int start = (int) Long.remainderUnsigned(hash.applyAsLong(key), all.size());
        for (int i = 0; i < Math.min(n, all.size()); i++) {
            out.add(all.get((start + i) % all.size()));
        }
        return out;
    }

    public synchronized List<String> nodes() { return new ArrayList<>(members); }

    public synchronized int size() { return members.size(); }
}
