"""Idempotent request handling: run a handler once per (client, key) and replay its response."""


class IdempotencyConflictError(Exception):
    """The key was already used with a different payload (stored or still in flight)."""


class IdempotencyStore:
    """Thread-safe store of idempotent responses, each kept ttl_millis after it is stored.

    clock.now_millis() returns the current time in milliseconds (an int).
    """

    def __init__(self, clock, ttl_millis):
        # TODO: raise ValueError if ttl_millis <= 0
        pass

    def execute(self, client_id, key, payload, handler):
        """Run handler() at most once for (client_id, key) and return its response.

        - stored response, same payload: return it without calling handler;
        - stored or in flight, different payload: raise IdempotencyConflictError at once;
        - in flight, same payload: wait for it, then return its response or raise its exception;
        - otherwise: call handler(); store its return value, or store nothing if it
          raised (the exception propagates unchanged).
        """
        # TODO
        raise NotImplementedError

    def __len__(self):
        """Number of keys held: in flight, or stored and not yet expired."""
        # TODO
        return 0
