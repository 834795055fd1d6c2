"""Wrong: one lock held for the whole request, handler included. Duplicates are
handled correctly, but a slow handler for one key blocks every other key (and
len()) until it finishes."""

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
        self._lock = threading.RLock()
        self._responses = OrderedDict()  # (client, key) -> (payload, response, stored_at)

    def _evict(self):
        now = self._clock.now_millis()
        while self._responses:
            scope, (_, _, stored_at) = next(iter(self._responses.items()))
            if now < stored_at + self._ttl:
                break
            del self._responses[scope]

    def execute(self, client_id, key, payload, handler):
        with self._lock:
            self._evict()
            cached = self._responses.get((client_id, key))
            if cached is not None:
                if cached[0] != payload:
                    raise IdempotencyConflictError(key)
                return cached[1]
            response = handler()
            self._responses[(client_id, key)] = (payload, response, self._clock.now_millis())
            return response

    def __len__(self):
        with self._lock:
            self._evict()
            return len(self._responses)
