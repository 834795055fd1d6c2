"""Wrong: correct behaviour, but every call walks the whole dict to drop expired
keys, so each request costs O(number of keys held)."""

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

    def _cleanup(self):
        now = self._clock.now_millis()
        expired = [scope for scope, e in self._entries.items()
                   if e.stored_at is not None and now >= e.stored_at + self._ttl]
        for scope in expired:
            del self._entries[scope]

    def execute(self, client_id, key, payload, handler):
        scope = (client_id, key)
        with self._lock:
            self._cleanup()
            entry = self._entries.get(scope)
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
        with self._lock:
            self._cleanup()
            return len(self._entries)
