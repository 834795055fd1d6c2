"""Sliding-window log with a single LRU queue of clients (least recently
admitted first) for releasing idle clients. With one window length that is
right, but with per-client windows the front client may still be active while
a client behind it (with a shorter window) is already idle."""

import threading
from collections import OrderedDict, deque


class RateLimiter:
    def __init__(self, clock, default_limit, default_window_millis):
        if default_limit < 1 or default_window_millis < 1:
            raise ValueError("limit and window must be positive")
        self._clock = clock
        self._default = (default_limit, default_window_millis)
        self._overrides = {}
        self._clients = OrderedDict()  # client id -> [limit, window, deque], least recently admitted first
        self._lock = threading.Lock()

    def set_client_limit(self, client_id, limit, window_millis):
        if limit < 1 or window_millis < 1:
            raise ValueError("limit and window must be positive")
        with self._lock:
            self._overrides[client_id] = (limit, window_millis)
            self._clients.pop(client_id, None)

    def _release_idle(self, now):
        while self._clients:
            client_id, (_, window, log) = next(iter(self._clients.items()))
            if log[-1] + window > now:
                break
            self._clients.popitem(last=False)

    def allow(self, client_id):
        with self._lock:
            now = self._clock.now_millis()
            self._release_idle(now)
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
            self._clients.move_to_end(client_id)
            return True

    def tracked_clients(self):
        with self._lock:
            self._release_idle(self._clock.now_millis())
            return len(self._clients)
