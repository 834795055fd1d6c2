"""Wrong: looks up the key, and if there is no response yet runs the handler and
stores its result, with nothing marking the key as in flight. Concurrent
duplicates all find "no response yet" and all run the handler."""

import threading
from collections import OrderedDict


class IdempotencyConflictError(Exception):
    pass


class IdempotencyStore:
    def __init__(self, clock, ttl_millis):
        if ttl_millis <= 0:
            raise ValueError("ttl_millis must be positive")
        self._clock = clock
        self._ttl = ttl_millis
        self._lock = threading.Lock()
        self._responses = OrderedDict()  # (client, key) -> (payload, response, stored_at)

    def _evict(self):
        now = self._clock.now_millis()
        while self._responses:
            scope, (_, _, stored_at) = next(iter(self._responses.items()))
            if now < stored_at + self._ttl:
                break
            del self._responses[scope]

    def execute(self, client_id, key, payload, handler):
        scope = (client_id, key)
        with self._lock:
            self._evict()
            cached = self._responses.get(scope)
        if cached is not None:
            if cached[0] != payload:
                raise IdempotencyConflictError(key)
            return cached[1]
        response = handler()
        with self._lock:
            self._responses[scope] = (payload, response, self._clock.now_millis())
        return response

    def __len__(self):
        with self._lock:
            self._evict()
            return len(self._responses)
