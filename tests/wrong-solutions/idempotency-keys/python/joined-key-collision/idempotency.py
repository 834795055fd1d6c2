"""Wrong: identifies a key by the string f"{client_id}:{key}", so client "a:b"
with key "c" and client "a" with key "b:c" share one entry."""

import threading
from collections import deque


class IdempotencyConflictError(Exception):
    """The key was already used with a different payload (stored or still in flight)."""


class _Entry:
    __slots__ = ("scope", "payload", "done", "response", "error", "stored_at")

    def __init__(self, scope, payload):
        self.scope = scope
        self.payload = payload
        self.done = threading.Event()  # set when the execution has finished
        self.response = None
        self.error = None
        self.stored_at = 0


class IdempotencyStore:
    """Thread-safe store of idempotent responses, each kept ttl_millis after it is stored."""

    def __init__(self, clock, ttl_millis):
        if ttl_millis <= 0:
            raise ValueError("ttl_millis must be positive")
        self._clock = clock
        self._ttl = ttl_millis
        self._lock = threading.Lock()
        self._entries = {}  # (client_id, key) -> _Entry, in flight or stored
        self._stored = deque()  # stored entries, oldest first

    def execute(self, client_id, key, payload, handler):
        scope = f"{client_id}:{key}"
        with self._lock:
            self._evict_expired()
            entry = self._entries.get(scope)
            owner = entry is None
            if owner:
                entry = _Entry(scope, payload)
                self._entries[scope] = entry

        if not owner:
            if entry.payload != payload:
                raise IdempotencyConflictError(
                    f"key {key!r} of client {client_id!r} was already used with a different payload"
                )
            entry.done.wait()  # returns at once for a stored entry
            if entry.error is not None:
                raise entry.error
            return entry.response

        # The handler runs without the lock: other keys are never blocked by it.
        try:
            response = handler()
        except BaseException as error:
            with self._lock:
                del self._entries[scope]  # nothing stored: the next retry runs again
            entry.error = error
            entry.done.set()
            raise

        with self._lock:
            entry.response = response
            entry.stored_at = self._clock.now_millis()
            self._stored.append(entry)
        entry.done.set()
        return response

    def __len__(self):
        with self._lock:
            self._evict_expired()
            return len(self._entries)

    def _evict_expired(self):
        # Entries are stored in time order: only the oldest ones can have expired,
        # so each entry is looked at once when it goes (O(1) amortized per call).
        now = self._clock.now_millis()
        stored = self._stored
        while stored and now >= stored[0].stored_at + self._ttl:
            entry = stored.popleft()
            if self._entries.get(entry.scope) is entry:
                del self._entries[entry.scope]
