"""Exact sliding-window-log rate limiter for an API gateway.

Every tracked client keeps the times of its admitted requests that are still in
its window, oldest first (a deque). A request at time t evicts the times
<= t - window from the front, then is admitted if fewer than `limit` remain.
Each time is appended once and popped once, so allow() is O(1) amortised.

Idle clients are found without scanning every client: clients are grouped by
window length, and each group is kept in order of last admitted request (an
OrderedDict; admitting moves the client to the end). Within one group the
client admitted longest ago is the first to become idle, so releasing idle
clients only ever looks at the front of each group.
"""

import threading
from collections import OrderedDict, deque


def _check_config(limit, window_millis):
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if window_millis < 1:
        raise ValueError(f"window must be at least 1 ms, got {window_millis}")


class _ClientState:
    __slots__ = ("limit", "window", "times")

    def __init__(self, limit, window):
        self.limit = limit
        self.window = window
        self.times = deque()  # admitted request times inside the window, oldest first


class RateLimiter:
    def __init__(self, clock, default_limit, default_window_millis):
        _check_config(default_limit, default_window_millis)
        self._clock = clock
        self._default = (default_limit, default_window_millis)
        self._overrides = {}  # client id -> (limit, window)
        self._clients = {}  # client id -> _ClientState, tracked clients only
        self._groups = {}  # window -> OrderedDict(client id -> state), least recently admitted first
        self._lock = threading.Lock()

    def set_client_limit(self, client_id, limit, window_millis):
        _check_config(limit, window_millis)
        with self._lock:
            self._overrides[client_id] = (limit, window_millis)
            state = self._clients.pop(client_id, None)
            if state is not None:
                self._remove_from_group(client_id, state.window)

    def allow(self, client_id):
        with self._lock:
            # Read the clock under the lock so recorded times never go backwards.
            now = self._clock.now_millis()
            self._release_idle(now)
            state = self._clients.get(client_id)
            if state is None:
                limit, window = self._overrides.get(client_id, self._default)
                state = _ClientState(limit, window)
                self._clients[client_id] = state
            times = state.times
            oldest_allowed = now - state.window  # times <= this are outside (now - window, now]
            while times and times[0] <= oldest_allowed:
                times.popleft()
            if len(times) >= state.limit:
                return False
            times.append(now)
            group = self._groups.get(state.window)
            if group is None:
                group = self._groups[state.window] = OrderedDict()
            group[client_id] = state
            group.move_to_end(client_id)
            return True

    def tracked_clients(self):
        with self._lock:
            self._release_idle(self._clock.now_millis())
            return len(self._clients)

    def _release_idle(self, now):
        emptied = []
        for window, group in self._groups.items():
            while group:
                client_id, state = next(iter(group.items()))
                if state.times[-1] + window > now:
                    break  # the rest of this group was admitted later
                group.popitem(last=False)
                del self._clients[client_id]
            if not group:
                emptied.append(window)
        for window in emptied:
            del self._groups[window]

    def _remove_from_group(self, client_id, window):
        group = self._groups[window]
        del group[client_id]
        if not group:
            del self._groups[window]
