"""Fixed-window counter: each client gets `limit` requests per aligned window
[k*window, (k+1)*window). Cheap, but lets a client burst 2x the limit across a
window boundary - it is not a sliding window."""

import threading


class RateLimiter:
    def __init__(self, clock, default_limit, default_window_millis):
        if default_limit < 1 or default_window_millis < 1:
            raise ValueError("limit and window must be positive")
        self._clock = clock
        self._default = (default_limit, default_window_millis)
        self._overrides = {}
        self._counters = {}  # client id -> [window start, count]
        self._lock = threading.Lock()

    def set_client_limit(self, client_id, limit, window_millis):
        if limit < 1 or window_millis < 1:
            raise ValueError("limit and window must be positive")
        with self._lock:
            self._overrides[client_id] = (limit, window_millis)
            self._counters.pop(client_id, None)

    def allow(self, client_id):
        with self._lock:
            now = self._clock.now_millis()
            limit, window = self._overrides.get(client_id, self._default)
            start = now - now % window
            counter = self._counters.get(client_id)
            if counter is None or counter[0] != start:
                counter = self._counters[client_id] = [start, 0]
            if counter[1] >= limit:
                return False
            counter[1] += 1
            return True

    def tracked_clients(self):
        with self._lock:
            now = self._clock.now_millis()
            for client_id in list(self._counters):
                _, window = self._overrides.get(client_id, self._default)
                if self._counters[client_id][0] + window <= now:
                    del self._counters[client_id]
            return len(self._counters)
