"""Wrong: an expired entry is ignored (and replaced) when its own key comes back,
but expired entries of keys that never come back stay in memory forever, and
len() counts them."""

import threading


class IdempotencyConflictError(Exception):
    pass


class _Entry:
    def __init__(self, payload):
        self.payload = payload
        self.done = threading.Event()
        self.response = None
        self.error = None
        self.stored_at = None  # None while in flight


class IdempotencyStore:
    def __init__(self, clock, ttl_millis):
        if ttl_millis <= 0:
            raise ValueError("ttl_millis must be positive")
        self._clock = clock
        self._ttl = ttl_millis
        self._lock = threading.Lock()
        self._entries = {}

    def execute(self, client_id, key, payload, handler):
        scope = (client_id, key)
        with self._lock:
            entry = self._entries.get(scope)
            if entry is not None and entry.stored_at is not None \
                    and self._clock.now_millis() >= entry.stored_at + self._ttl:
                entry = None  # expired: treat as absent
            owner = entry is None
            if owner:
                entry = self._entries[scope] = _Entry(payload)
        if not owner:
            if entry.payload != payload:
                raise IdempotencyConflictError(key)
            entry.done.wait()
            if entry.error is not None:
                raise entry.error
            return entry.response
        try:
            response = handler()
        except Exception as error:
            with self._lock:
                del self._entries[scope]
            entry.error = error
            entry.done.set()
            raise
        with self._lock:
            entry.response = response
            entry.stored_at = self._clock.now_millis()
        entry.done.set()
        return response

    def __len__(self):
        return len(self._entries)
