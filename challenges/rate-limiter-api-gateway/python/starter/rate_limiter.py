"""Sliding-window rate limiter for an API gateway.

The clock passed to the constructor has one method, now_millis(), returning the
current time as an int number of milliseconds (it never goes backwards).
"""

import threading  # noqa: F401  (you will probably need a lock)


class RateLimiter:
    def __init__(self, clock, default_limit, default_window_millis):
        """Every client gets `default_limit` requests per `default_window_millis` ms
        unless it has an override. Raise ValueError if the limit or window is < 1."""
        self._clock = clock
        # TODO

    def set_client_limit(self, client_id, limit, window_millis):
        """Override the limit and window of one client and clear its history.
        Raise ValueError if the limit or window is < 1."""
        raise NotImplementedError("TODO: set_client_limit")

    def allow(self, client_id):
        """Admit (True) if fewer than `limit` of the client's admitted requests lie in
        (now - window, now], recording this one; otherwise return False."""
        raise NotImplementedError("TODO: allow")

    def tracked_clients(self):
        """Number of clients with at least one admitted request inside their window."""
        raise NotImplementedError("TODO: tracked_clients")
