"""Exact sliding-window log, but idle clients are only skipped when counting,
never deleted: memory grows with every client ever seen."""

import threading
from collections import deque


class RateLimiter:
    def __init__(self, clock, default_limit, default_window_millis):
        if default_limit < 1 or default_window_millis < 1:
            raise ValueError("limit and window must be positive")
        self._clock = clock
        self._default = (default_limit, default_window_millis)
        self._overrides = {}
        self._logs = {}  # client id -> deque of admitted times
        self._lock = threading.Lock()

    def _config(self, client_id):
        return self._overrides.get(client_id, self._default)

    def set_client_limit(self, client_id, limit, window_millis):
        if limit < 1 or window_millis < 1:
            raise ValueError("limit and window must be positive")
        with self._lock:
            self._overrides[client_id] = (limit, window_millis)
            self._logs[client_id] = deque()

    def allow(self, client_id):
        with self._lock:
            now = self._clock.now_millis()
            limit, window = self._config(client_id)
            log = self._logs.setdefault(client_id, deque())
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) >= limit:
                return False
            log.append(now)
            return True

    def tracked_clients(self):
        with self._lock:
            now = self._clock.now_millis()
            return sum(1 for client_id, log in self._logs.items()
                       if log and log[-1] > now - self._config(client_id)[1])
