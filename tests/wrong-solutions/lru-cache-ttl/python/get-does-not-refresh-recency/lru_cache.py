"""A thread-safe LRU cache with per-entry TTLs and hit/miss statistics."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Optional


@dataclass(frozen=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0


class _Entry:
    __slots__ = ("value", "expires_at")

    def __init__(self, value: Any, expires_at: Optional[int]) -> None:
        self.value = value
        self.expires_at = expires_at  # None: never expires

    def expired(self, now: int) -> bool:
        return self.expires_at is not None and now >= self.expires_at


class LRUCache:
    """LRU cache of at most `capacity` entries; `clock()` returns milliseconds."""

    def __init__(self, capacity: int, clock: Callable[[], int]) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        # Least recently used first, most recently used last.
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                return default
            if entry.expired(self._clock()):
                del self._entries[key]
                self._misses += 1
                self._expirations += 1
                return default
            self._hits += 1
            return entry.value

    def put(self, key: Hashable, value: Any, ttl_ms: int = 0) -> None:
        if ttl_ms < 0:
            raise ValueError(f"ttl_ms must not be negative, got {ttl_ms}")
        with self._lock:
            now = self._clock()
            expires_at = now + ttl_ms if ttl_ms > 0 else None
            entry = self._entries.get(key)
            if entry is not None:
                if entry.expired(now):
                    self._expirations += 1
                entry.value = value
                entry.expires_at = expires_at
                self._entries.move_to_end(key)
                return
            if len(self._entries) >= self._capacity:
                _, victim = self._entries.popitem(last=False)
                if victim.expired(now):
                    self._expirations += 1
                else:
                    self._evictions += 1
            self._entries[key] = _Entry(value, expires_at)

    def delete(self, key: Hashable) -> bool:
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                return False
            if entry.expired(self._clock()):
                self._expirations += 1
                return False
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, self._expirations)
