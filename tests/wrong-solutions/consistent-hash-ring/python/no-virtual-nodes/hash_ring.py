"""Wrong: every node is placed on the ring once (by its name), so there are no
virtual nodes and the key space is split very unevenly."""
import bisect
import hashlib
import threading

DEFAULT_VNODES = 160


def hash64(s):
    return int.from_bytes(hashlib.md5(s.encode("utf-8")).digest()[:8], "big")


class HashRing:
    def __init__(self, vnodes=DEFAULT_VNODES, hash_fn=None):
        if vnodes < 1:
            raise ValueError("vnodes must be >= 1")
        self._hash = hash_fn or hash64
        self._lock = threading.Lock()
        self._points = []  # sorted (position, name)

    def add_node(self, name):
        with self._lock:
            if any(n == name for _, n in self._points):
                return False
            bisect.insort(self._points, (self._hash(name), name))
            return True

    def remove_node(self, name):
        with self._lock:
            kept = [p for p in self._points if p[1] != name]
            if len(kept) == len(self._points):
                return False
            self._points = kept
            return True

    def get_node(self, key):
        nodes = self.get_nodes(key, 1)
        return nodes[0] if nodes else None

    def get_nodes(self, key, n):
        with self._lock:
            pts = self._points
            if n <= 0 or not pts:
                return []
            i = bisect.bisect_left(pts, (self._hash(key), ""))
            return [pts[(i + j) % len(pts)][1] for j in range(min(n, len(pts)))]

    def nodes(self):
        with self._lock:
            return sorted(n for _, n in self._points)

    def __len__(self):
        return len(self._points)
