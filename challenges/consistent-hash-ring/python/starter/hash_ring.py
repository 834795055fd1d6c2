"""Consistent hash ring with virtual nodes.

Implement everything marked TODO. See the statement for the exact rules
(hash function, virtual node labels, tie-breaking, thread safety).
"""
from __future__ import annotations

import bisect  # noqa: F401  (you will probably want these)
import hashlib  # noqa: F401
import threading  # noqa: F401
from typing import Callable, List, Optional

DEFAULT_VNODES = 160


def hash64(s: str) -> int:
    """First 8 bytes of MD5(UTF-8(s)), read big-endian as an unsigned 64-bit int."""
    # TODO
    return 0


class HashRing:
    def __init__(self, vnodes: int = DEFAULT_VNODES,
                 hash_fn: Optional[Callable[[str], int]] = None) -> None:
        """vnodes >= 1 virtual nodes per physical node (else ValueError).
        hash_fn maps a string to an int in [0, 2**64); defaults to hash64."""
        # TODO
        self._vnodes = vnodes
        self._hash = hash_fn or hash64

    def add_node(self, name: str) -> bool:
        """Places name#0 .. name#(vnodes-1) on the ring. False if already a member."""
        # TODO
        return False

    def remove_node(self, name: str) -> bool:
        """Removes the node and all its virtual nodes. False if not a member."""
        # TODO
        return False

    def get_node(self, key: str) -> Optional[str]:
        """Owner of key: the first virtual node clockwise from hash(key) (inclusive). None if empty."""
        # TODO
        return None

    def get_nodes(self, key: str, n: int) -> List[str]:
        """Up to n distinct physical nodes, walking clockwise from hash(key)."""
        # TODO
        return []

    def nodes(self) -> List[str]:
        """Member names, sorted."""
        # TODO
        return []

    def __len__(self) -> int:
        """Number of physical nodes."""
        # TODO
        return 0
