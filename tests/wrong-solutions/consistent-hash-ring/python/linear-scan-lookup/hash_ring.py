"""Wrong: correct answers, but every lookup scans the sorted points from the
start instead of binary searching: O(V) per lookup."""
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
        self._points = []  # sorted (position, name)
        self._members = set()

    def add_node(self, name):
        with self._lock:
            if name in self._members:
                return False
            self._members.add(name)
            pts = self._points + [(self._hash(f"{name}#{i}"), name) for i in range(self._vnodes)]
            pts.sort()
            self._points = pts
            return True

    def remove_node(self, name):
        with self._lock:
            if name not in self._members:
                return False
            self._members.discard(name)
            self._points = [p for p in self._points if p[1] != name]
            return True

    def _start(self, pts, h):
        for i, (pos, _) in enumerate(pts):
            if pos >= h:
                return i
        return 0

    def get_node(self, key):
        with self._lock:
            pts = self._points
            if not pts:
                return None
            return pts[self._start(pts, self._hash(key))][1]

    def get_nodes(self, key, n):
        with self._lock:
            pts = self._points
            want = min(n, len(self._members))
            if want <= 0:
                return []
            i = self._start(pts, self._hash(key))
            out = []
            for j in range(len(pts)):
                name = pts[(i + j) % len(pts)][1]
                if name not in out:
                    out.append(name)
                    if len(out) == want:
                        break
            return out

    def nodes(self):
        with self._lock:
            return sorted(self._members)

    def __len__(self):
        return len(self._members)
