"""Wrong: keeps positions and owners in two parallel lists updated with
bisect.insort and no lock, so concurrent add/remove calls interleave."""
import bisect
import hashlib

DEFAULT_VNODES = 160


def hash64(s):
    return int.from_bytes(hashlib.md5(s.encode("utf-8")).digest()[:8], "big")


class HashRing:
    def __init__(self, vnodes=DEFAULT_VNODES, hash_fn=None):
        if vnodes < 1:
            raise ValueError("vnodes must be >= 1")
        self.vnodes = vnodes
        self.hash_fn = hash_fn or hash64
        self.members = set()
        self.positions = []
        self.owners = []

    def add_node(self, name):
        if name in self.members:
            return False
        self.members.add(name)
        for i in range(self.vnodes):
            pos = self.hash_fn(f"{name}#{i}")
            idx = bisect.bisect_right(self.positions, pos)
            while idx > 0 and self.positions[idx - 1] == pos and self.owners[idx - 1] > name:
                idx -= 1
            self.positions.insert(idx, pos)
            self.owners.insert(idx, name)
        return True

    def remove_node(self, name):
        if name not in self.members:
            return False
        self.members.remove(name)
        i = 0
        while i < len(self.owners):
            if self.owners[i] == name:
                del self.positions[i]
                del self.owners[i]
            else:
                i += 1
        return True

    def get_node(self, key):
        if not self.positions:
            return None
        i = bisect.bisect_left(self.positions, self.hash_fn(key))
        return self.owners[i % len(self.owners)]

    def get_nodes(self, key, n):
        want = min(n, len(self.members))
        if want <= 0:
            return []
        i = bisect.bisect_left(self.positions, self.hash_fn(key))
        out = []
        for j in range(len(self.owners)):
            name = self.owners[(i + j) % len(self.owners)]
            if name not in out:
                out.append(name)
                if len(out) == want:
                    break
        return out

    def nodes(self):
        return sorted(self.members)

    def __len__(self):
        return len(self.members)
