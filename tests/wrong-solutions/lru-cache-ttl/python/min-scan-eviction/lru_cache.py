"""LRU cache that stamps each entry with a use counter and evicts the
entry with the smallest stamp."""

import itertools
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0


class _Entry:
    __slots__ = ("value", "expires_at", "last_used")

    def __init__(self, value, expires_at, last_used):
        self.value = value
        self.expires_at = expires_at
        self.last_used = last_used


class LRUCache:
    def __init__(self, capacity, clock):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._entries = {}
        self._tick = itertools.count()
        self._hits = self._misses = self._evictions = self._expirations = 0

    @staticmethod
    def _expired(entry, now):
        return entry.expires_at is not None and now >= entry.expires_at

    def get(self, key, default=None):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                return default
            if self._expired(entry, self._clock()):
                del self._entries[key]
                self._misses += 1
                self._expirations += 1
                return default
            entry.last_used = next(self._tick)
            self._hits += 1
            return entry.value

    def put(self, key, value, ttl_ms=0):
        if ttl_ms < 0:
            raise ValueError("ttl_ms must be >= 0")
        with self._lock:
            now = self._clock()
            expires_at = now + ttl_ms if ttl_ms > 0 else None
            entry = self._entries.get(key)
            if entry is not None:
                if self._expired(entry, now):
                    self._expirations += 1
                entry.value, entry.expires_at = value, expires_at
                entry.last_used = next(self._tick)
                return
            if len(self._entries) >= self._capacity:
                lru_key, lru = min(self._entries.items(), key=lambda kv: kv[1].last_used)
                del self._entries[lru_key]
                if self._expired(lru, now):
                    self._expirations += 1
                else:
                    self._evictions += 1
            self._entries[key] = _Entry(value, expires_at, next(self._tick))

    def delete(self, key):
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                return False
            if self._expired(entry, self._clock()):
                self._expirations += 1
                return False
            return True

    def __len__(self):
        with self._lock:
            return len(self._entries)

    def stats(self):
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, self._expirations)
