"""LRU cache with lazy deletion: every use appends a (key, stamp) record to
a deque; eviction pops records until it finds one that is still current."""

import itertools
import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0


class LRUCache:
    def __init__(self, capacity, clock):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._values = {}  # key -> [value, expires_at or None, stamp]
        self._queue = deque()  # (key, stamp), oldest first
        self._stamps = itertools.count()
        self._hits = self._misses = self._evictions = self._expirations = 0

    @staticmethod
    def _expired(item, now):
        return item[1] is not None and now >= item[1]

    def _touch(self, key, item):
        item[2] = next(self._stamps)
        self._queue.append((key, item[2]))

    def _pop_lru(self):
        while True:
            key, stamp = self._queue.popleft()
            item = self._values.get(key)
            if item is not None and item[2] == stamp:
                del self._values[key]
                return item

    def get(self, key, default=None):
        with self._lock:
            item = self._values.get(key)
            if item is None:
                self._misses += 1
                return default
            if self._expired(item, self._clock()):
                del self._values[key]  # its queue records are skipped later
                self._misses += 1
                self._expirations += 1
                return default
            self._touch(key, item)
            self._hits += 1
            return item[0]

    def put(self, key, value, ttl_ms=0):
        if ttl_ms < 0:
            raise ValueError("ttl_ms must be >= 0")
        with self._lock:
            now = self._clock()
            expires_at = now + ttl_ms if ttl_ms > 0 else None
            item = self._values.get(key)
            if item is not None:
                if self._expired(item, now):
                    self._expirations += 1
                item[0], item[1] = value, expires_at
                self._touch(key, item)
                return
            if len(self._values) >= self._capacity:
                victim = self._pop_lru()
                if self._expired(victim, now):
                    self._expirations += 1
                else:
                    self._evictions += 1
            item = [value, expires_at, None]
            self._values[key] = item
            self._touch(key, item)

    def delete(self, key):
        with self._lock:
            item = self._values.pop(key, None)
            if item is None:
                return False
            if self._expired(item, self._clock()):
                self._expirations += 1
                return False
            return True

    def __len__(self):
        with self._lock:
            return len(self._values)

    def stats(self):
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, self._expirations)
