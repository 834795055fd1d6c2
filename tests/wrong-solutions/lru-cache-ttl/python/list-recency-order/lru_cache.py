"""LRU cache: a dict for the values and a list for the recency order."""

import threading
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
        self.capacity = capacity
        self.clock = clock
        self.lock = threading.Lock()
        self.data = {}  # key -> (value, expires_at or None)
        self.order = []  # least recently used first
        self.hits = self.misses = self.evictions = self.expirations = 0

    def _expired(self, item, now):
        return item[1] is not None and now >= item[1]

    def get(self, key, default=None):
        with self.lock:
            if key not in self.data:
                self.misses += 1
                return default
            item = self.data[key]
            if self._expired(item, self.clock()):
                del self.data[key]
                self.order.remove(key)
                self.misses += 1
                self.expirations += 1
                return default
            self.order.remove(key)
            self.order.append(key)
            self.hits += 1
            return item[0]

    def put(self, key, value, ttl_ms=0):
        if ttl_ms < 0:
            raise ValueError("ttl_ms must be >= 0")
        with self.lock:
            now = self.clock()
            expires_at = now + ttl_ms if ttl_ms else None
            if key in self.data:
                if self._expired(self.data[key], now):
                    self.expirations += 1
                self.order.remove(key)
            elif len(self.data) >= self.capacity:
                oldest = self.order.pop(0)
                if self._expired(self.data.pop(oldest), now):
                    self.expirations += 1
                else:
                    self.evictions += 1
            self.data[key] = (value, expires_at)
            self.order.append(key)

    def delete(self, key):
        with self.lock:
            if key not in self.data:
                return False
            item = self.data.pop(key)
            self.order.remove(key)
            if self._expired(item, self.clock()):
                self.expirations += 1
                return False
            return True

    def __len__(self):
        with self.lock:
            return len(self.data)

    def stats(self):
        with self.lock:
            return CacheStats(self.hits, self.misses, self.evictions, self.expirations)
