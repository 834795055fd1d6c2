"""Wrong: hash(key) % N over the sorted member list instead of a ring, so
almost every key moves when membership changes."""
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
        self._members = []

    def add_node(self, name):
        with self._lock:
            if name in self._members:
                return False
            self._members = sorted(self._members + [name])
            return True

    def remove_node(self, name):
        with self._lock:
            if name not in self._members:
                return False
            self._members = [m for m in self._members if m != name]
            return True

    def get_node(self, key):
        members = self._members
        if not members:
            return None
        return members[self._hash(key) % len(members)]

    def get_nodes(self, key, n):
        members = self._members
        if n <= 0 or not members:
            return []
        start = self._hash(key) % len(members)
        return [members[(start + j) % len(members)] for j in range(min(n, len(members)))]

    def nodes(self):
        return list(self._members)

    def __len__(self):
        return len(self._members)
