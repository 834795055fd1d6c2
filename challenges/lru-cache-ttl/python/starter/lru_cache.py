"""A thread-safe LRU cache with per-entry TTLs and hit/miss statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable


@dataclass(frozen=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0


class LRUCache:
    """LRU cache of at most `capacity` entries.

    `clock()` returns the current time in milliseconds (an int).
    Every method must be safe to call from several threads at once.
    """

    def __init__(self, capacity: int, clock: Callable[[], int]) -> None:
        # TODO: raise ValueError if capacity < 1, set up your state.
        pass

    def get(self, key: Hashable, default: Any = None) -> Any:
        """Return the live value for key, or `default` on a miss."""
        # TODO
        return default

    def put(self, key: Hashable, value: Any, ttl_ms: int = 0) -> None:
        """Store value; ttl_ms == 0 never expires, ttl_ms < 0 raises ValueError."""
        # TODO

    def delete(self, key: Hashable) -> bool:
        """Remove key; True only if a live entry was removed."""
        # TODO
        return False

    def __len__(self) -> int:
        """Number of stored entries, including expired ones not yet removed."""
        # TODO
        return 0

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        # TODO
        return CacheStats()
