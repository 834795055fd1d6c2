"""Wrong: the ring is rebuilt under a lock, but the "is it already a member?"
check happens before taking the lock, so two threads adding (or removing) the
same node can both succeed."""
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
        self._members = set()
        self._points = []  # sorted (position, name)

    def add_node(self, name):
        if name in self._members:
            return False
        points = [(self._hash(f"{name}#{i}"), name) for i in range(self._vnodes)]
        with self._lock:
            self._members.add(name)
            self._points = sorted(self._points + points)
        return True

    def remove_node(self, name):
        if name not in self._members:
            return False
        with self._lock:
            self._members.discard(name)
            self._points = [p for p in self._points if p[1] != name]
        return True

    def get_node(self, key):
        points = self._points
        if not points:
            return None
        i = bisect.bisect_left(points, (self._hash(key), ""))
        return points[i % len(points)][1]

    def get_nodes(self, key, n):
        points = self._points
        want = min(n, len(self._members))
        if want <= 0 or not points:
            return []
        i = bisect.bisect_left(points, (self._hash(key), ""))
        out = []
        for j in range(len(points)):
            name = points[(i + j) % len(points)][1]
            if name not in out:
                out.append(name)
                if len(out) == want:
                    break
        return out

    def nodes(self):
        return sorted(self._members)

    def __len__(self):
        return len(self._members)
