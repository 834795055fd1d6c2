"""Exact sliding-window log that releases idle clients by sweeping the whole
client table on every call: correct, but O(number of clients) per request."""

import threading
from collections import deque


class RateLimiter:
    def __init__(self, clock, default_limit, default_window_millis):
        if default_limit < 1 or default_window_millis < 1:
            raise ValueError("limit and window must be positive")
        self._clock = clock
        self._default = (default_limit, default_window_millis)
        self._overrides = {}
        self._clients = {}  # client id -> (limit, window, deque of admitted times)
        self._lock = threading.Lock()

    def set_client_limit(self, client_id, limit, window_millis):
        if limit < 1 or window_millis < 1:
            raise ValueError("limit and window must be positive")
        with self._lock:
            self._overrides[client_id] = (limit, window_millis)
            self._clients.pop(client_id, None)

    def _sweep(self, now):
        for client_id, (_, window, log) in list(self._clients.items()):
            if log[-1] <= now - window:
                del self._clients[client_id]

    def allow(self, client_id):
        with self._lock:
            now = self._clock.now_millis()
            self._sweep(now)
            entry = self._clients.get(client_id)
            if entry is None:
                limit, window = self._overrides.get(client_id, self._default)
                entry = self._clients[client_id] = (limit, window, deque())
            limit, window, log = entry
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) >= limit:
                return False
            log.append(now)
            return True

    def tracked_clients(self):
        with self._lock:
            self._sweep(self._clock.now_millis())
            return len(self._clients)
