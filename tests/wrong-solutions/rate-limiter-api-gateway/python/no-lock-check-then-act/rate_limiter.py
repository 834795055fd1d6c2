"""Sliding-window log without a lock ("the GIL makes dict and deque operations
atomic"). Each single operation is, but check-then-act is not: two threads can
both see len(log) < limit and both append."""

from collections import OrderedDict, deque


class _ClientState:
    __slots__ = ("limit", "window", "times")

    def __init__(self, limit, window):
        self.limit = limit
        self.window = window
        self.times = deque()


class RateLimiter:
    def __init__(self, clock, default_limit, default_window_millis):
        if default_limit < 1 or default_window_millis < 1:
            raise ValueError("limit and window must be positive")
        self._clock = clock
        self._default = (default_limit, default_window_millis)
        self._overrides = {}
        self._clients = {}
        self._groups = {}  # window -> OrderedDict of client ids, least recently admitted first

    def set_client_limit(self, client_id, limit, window_millis):
        if limit < 1 or window_millis < 1:
            raise ValueError("limit and window must be positive")
        self._overrides[client_id] = (limit, window_millis)
        state = self._clients.pop(client_id, None)
        if state is not None:
            self._groups[state.window].pop(client_id, None)

    def allow(self, client_id):
        now = self._clock.now_millis()
        self._release_idle(now)
        state = self._clients.get(client_id)
        if state is None:
            state = _ClientState(*self._overrides.get(client_id, self._default))
            self._clients[client_id] = state
        times = state.times
        while times and times[0] <= now - state.window:
            times.popleft()
        if len(times) >= state.limit:
            return False
        times.append(now)
        group = self._groups.setdefault(state.window, OrderedDict())
        group[client_id] = state
        group.move_to_end(client_id)
        return True

    def tracked_clients(self):
        self._release_idle(self._clock.now_millis())
        return len(self._clients)

    def _release_idle(self, now):
        for window, group in self._groups.items():
            while group:
                client_id, state = next(iter(group.items()))
                if state.times and state.times[-1] + window > now:
                    break
                group.popitem(last=False)
                self._clients.pop(client_id, None)
