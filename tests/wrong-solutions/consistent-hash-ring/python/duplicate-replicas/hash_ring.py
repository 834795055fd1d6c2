"""Wrong: get_nodes returns the owners of the next n virtual nodes, so the same
physical node can appear more than once."""
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
        self._vnodes = vnodes
        self._hash = hash_fn or hash64
        self._lock = threading.Lock()
        self._points = []
        self._members = set()

    def add_node(self, name):
        with self._lock:
            if name in self._members:
                return False
            self._members.add(name)
            for i in range(self._vnodes):
                bisect.insort(self._points, (self._hash(f"{name}#{i}"), name))
            return True

    def remove_node(self, name):
        with self._lock:
            if name not in self._members:
                return False
            self._members.discard(name)
            self._points = [p for p in self._points if p[1] != name]
            return True

    def get_node(self, key):
        with self._lock:
            if not self._points:
                return None
            i = bisect.bisect_left(self._points, (self._hash(key), ""))
            return self._points[i % len(self._points)][1]

    def get_nodes(self, key, n):
        with self._lock:
            if n <= 0 or not self._points:
                return []
            i = bisect.bisect_left(self._points, (self._hash(key), ""))
            count = min(n, len(self._members))
            return [self._points[(i + j) % len(self._points)][1] for j in range(count)]

    def nodes(self):
        with self._lock:
            return sorted(self._members)

    def __len__(self):
        return len(self._members)
