"""Sliding-window *counter*: two fixed buckets per client, and the previous
bucket's count is weighted by how much of it still overlaps the sliding window.
O(1) and tiny, but an approximation - it assumes the previous bucket's requests
were spread evenly, so it admits or rejects at the wrong moments."""

import threading


class _Buckets:
    __slots__ = ("start", "current", "previous")

    def __init__(self, start):
        self.start = start
        self.current = 0
        self.previous = 0


class RateLimiter:
    def __init__(self, clock, default_limit, default_window_millis):
        if default_limit < 1 or default_window_millis < 1:
            raise ValueError("limit and window must be positive")
        self._clock = clock
        self._default = (default_limit, default_window_millis)
        self._overrides = {}
        self._buckets = {}
        self._lock = threading.Lock()

    def set_client_limit(self, client_id, limit, window_millis):
        if limit < 1 or window_millis < 1:
            raise ValueError("limit and window must be positive")
        with self._lock:
            self._overrides[client_id] = (limit, window_millis)
            self._buckets.pop(client_id, None)

    def _roll(self, b, now, window):
        start = now - now % window
        if start == b.start:
            return
        b.previous = b.current if start - b.start == window else 0
        b.current = 0
        b.start = start

    def allow(self, client_id):
        with self._lock:
            now = self._clock.now_millis()
            limit, window = self._overrides.get(client_id, self._default)
            b = self._buckets.get(client_id)
            if b is None:
                b = self._buckets[client_id] = _Buckets(now - now % window)
            self._roll(b, now, window)
            overlap = (window - (now - b.start)) / window
            if b.previous * overlap + b.current >= limit:
                return False
            b.current += 1
            return True

    def tracked_clients(self):
        with self._lock:
            now = self._clock.now_millis()
            for client_id in list(self._buckets):
                _, window = self._overrides.get(client_id, self._default)
                b = self._buckets[client_id]
                self._roll(b, now, window)
                if b.current == 0 and b.previous == 0:
                    del self._buckets[client_id]
            return len(self._buckets)
