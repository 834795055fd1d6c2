import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.ToLongFunction;

/** WRONG: the classic TreeMap<position, node> ring. Virtual nodes that land on
 *  the same position overwrite each other, so ties are not broken by name. */
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

    private final int vnodes;
    private final ToLongFunction<String> hash;
    private final TreeMap<Long, String> ring = new TreeMap<>(Long::compareUnsigned);
    private final Set<String> members = new TreeSet<>();

    public HashRing() { this(DEFAULT_VNODES); }

    public HashRing(int vnodes) { this(vnodes, HashRing::hash64); }

    public HashRing(int vnodes, ToLongFunction<String> hash) {
        if (vnodes < 1) throw new IllegalArgumentException("vnodes must be >= 1");
        this.vnodes = vnodes;
        this.hash = hash;
    }

    public synchronized boolean addNode(String name) {
        if (!members.add(name)) return false;
        for (int i = 0; i < vnodes; i++) {
            ring.put(hash.applyAsLong(name + "#" + i), name);
        }
        return true;
    }

    public synchronized boolean removeNode(String name) {
        if (!members.remove(name)) return false;
        ring.values().removeIf(name::equals);
        return true;
    }

    public synchronized String getNode(String key) {
        if (ring.isEmpty()) return null;
        Map.Entry<Long, String> e = ring.ceilingEntry(hash.applyAsLong(key));
        return e != null ? e.getValue() : ring.firstEntry().getValue();
    }

    public synchronized List<String> getNodes(String key, int n) {
        Set<String> out = new LinkedHashSet<>();
        if (n <= 0 || ring.isEmpty()) return new ArrayList<>();
        long h = hash.applyAsLong(key);
        Iterator<String> tail = ring.tailMap(h, true).values().iterator();
        Iterator<String> head = ring.headMap(h, false).values().iterator();
        int want = Math.min(n, members.size());
        while (out.size() < want && tail.hasNext()) out.add(tail.next());
        while (out.size() < want && head.hasNext()) out.add(head.next());
        return new ArrayList<>(out);
    }

    public synchronized List<String> nodes() { return new ArrayList<>(members); }

    public synchronized int size() { return members.size(); }
}
