"""Sliding-window log that rebuilds the client's list of recent timestamps on
every call: exact, but O(requests in the window) per request."""

import threading
from collections import OrderedDict


class RateLimiter:
    def __init__(self, clock, default_limit, default_window_millis):
        if default_limit < 1 or default_window_millis < 1:
            raise ValueError("limit and window must be positive")
        self._clock = clock
        self._default = (default_limit, default_window_millis)
        self._overrides = {}
        self._logs = {}  # client id -> list of admitted times
        self._groups = {}  # window -> OrderedDict of client ids, least recently admitted first
        self._lock = threading.Lock()

    def _window(self, client_id):
        return self._overrides.get(client_id, self._default)[1]

    def set_client_limit(self, client_id, limit, window_millis):
        if limit < 1 or window_millis < 1:
            raise ValueError("limit and window must be positive")
        with self._lock:
            old_window = self._window(client_id)
            self._overrides[client_id] = (limit, window_millis)
            if self._logs.pop(client_id, None) is not None:
                self._groups[old_window].pop(client_id)

    def allow(self, client_id):
        with self._lock:
            now = self._clock.now_millis()
            self._release_idle(now)
            limit, window = self._overrides.get(client_id, self._default)
            recent = [t for t in self._logs.get(client_id, []) if t > now - window]
            if len(recent) >= limit:
                self._logs[client_id] = recent
                return False
            recent.append(now)
            self._logs[client_id] = recent
            group = self._groups.setdefault(window, OrderedDict())
            group[client_id] = True
            group.move_to_end(client_id)
            return True

    def tracked_clients(self):
        with self._lock:
            self._release_idle(self._clock.now_millis())
            return len(self._logs)

    def _release_idle(self, now):
        for window, group in self._groups.items():
            while group:
                client_id = next(iter(group))
                if self._logs[client_id][-1] + window > now:
                    break
                group.popitem(last=False)
                del self._logs[client_id]
