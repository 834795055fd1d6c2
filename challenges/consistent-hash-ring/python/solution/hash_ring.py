"""Consistent hash ring with virtual nodes (reference solution)."""
from __future__ import annotations

import bisect
import hashlib
import threading
from typing import Callable, List, Optional, Tuple

DEFAULT_VNODES = 160


def hash64(s: str) -> int:
    """First 8 bytes of MD5(UTF-8(s)), read big-endian as an unsigned 64-bit int."""
    return int.from_bytes(hashlib.md5(s.encode("utf-8")).digest()[:8], "big")


# An immutable snapshot of the ring: positions sorted ascending, owners[i]
# is the physical node owning positions[i]. Readers grab the current snapshot
# with one attribute read and never see a half-updated ring.
_Snapshot = Tuple[Tuple[int, ...], Tuple[str, ...], frozenset]
_EMPTY: _Snapshot = ((), (), frozenset())


class HashRing:
    def __init__(self, vnodes: int = DEFAULT_VNODES,
                 hash_fn: Optional[Callable[[str], int]] = None) -> None:
        if vnodes < 1:
            raise ValueError(f"vnodes must be >= 1, got {vnodes}")
        self._vnodes = vnodes
        self._hash = hash_fn or hash64
        self._write_lock = threading.Lock()
        self._snap: _Snapshot = _EMPTY

    # -- membership (writers are serialised; readers use the snapshot) -----

    def add_node(self, name: str) -> bool:
        with self._write_lock:
            positions, owners, members = self._snap
            if name in members:
                return False
            points = list(zip(positions, owners))
            points.extend((self._hash(f"{name}#{i}"), name) for i in range(self._vnodes))
            # Ties on position are broken by node name (the same node's own
            # vnodes share a name, so their relative order does not matter).
            points.sort()
            self._snap = (tuple(p for p, _ in points), tuple(o for _, o in points),
                          members | {name})
            return True

    def remove_node(self, name: str) -> bool:
        with self._write_lock:
            positions, owners, members = self._snap
            if name not in members:
                return False
            keep = [(p, o) for p, o in zip(positions, owners) if o != name]
            self._snap = (tuple(p for p, _ in keep), tuple(o for _, o in keep),
                          members - {name})
            return True

    # -- lookups -------------------------------------------------------------

    def get_node(self, key: str) -> Optional[str]:
        positions, owners, _ = self._snap
        if not positions:
            return None
        i = bisect.bisect_left(positions, self._hash(key))
        return owners[i % len(positions)]

    def get_nodes(self, key: str, n: int) -> List[str]:
        positions, owners, members = self._snap
        want = min(n, len(members))
        if want <= 0:
            return []
        start = bisect.bisect_left(positions, self._hash(key))
        found: List[str] = []
        seen = set()
        total = len(positions)
        for step in range(total):
            owner = owners[(start + step) % total]
            if owner not in seen:
                seen.add(owner)
                found.append(owner)
                if len(found) == want:
                    break
        return found

    def nodes(self) -> List[str]:
        return sorted(self._snap[2])

    def __len__(self) -> int:
        return len(self._snap[2])
