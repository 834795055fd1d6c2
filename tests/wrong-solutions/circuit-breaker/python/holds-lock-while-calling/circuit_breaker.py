"""A thread-safe circuit breaker with a rolling failure window, a cooldown and
a bounded half-open trial phase."""

from __future__ import annotations

import enum
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, TypeVar

T = TypeVar("T")


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitOpenError(Exception):
    """Raised by call() when the call is rejected; fn is not run."""

    def __init__(self, message: str = "circuit breaker is open") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Stats:
    successes: int = 0
    failures: int = 0
    rejections: int = 0
    times_opened: int = 0


class CircuitBreaker:
    def __init__(self, clock: Callable[[], int], *, failure_threshold: int,
                 window_ms: int, cooldown_ms: int, half_open_max_calls: int,
                 success_threshold: int) -> None:
        if clock is None:
            raise ValueError("clock is required")
        for name, value in (("failure_threshold", failure_threshold),
                            ("window_ms", window_ms),
                            ("cooldown_ms", cooldown_ms),
                            ("half_open_max_calls", half_open_max_calls),
                            ("success_threshold", success_threshold)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self._clock = clock
        self._failure_threshold = failure_threshold
        self._window_ms = window_ms
        self._cooldown_ms = cooldown_ms
        self._half_open_max_calls = half_open_max_calls
        self._success_threshold = success_threshold

        self._lock = threading.RLock()
        self._state = State.CLOSED
        self._period = 0               # incremented on every state change
        self._failures: Deque[int] = deque()  # failure times inside the window
        self._opened_at = 0
        self._in_flight = 0            # half-open trials in flight
        self._trial_successes = 0
        self._successes = 0
        self._failure_count = 0
        self._rejections = 0
        self._times_opened = 0

    def call(self, fn: Callable[[], T]) -> T:
        # One lock around the whole call keeps every step consistent.
        with self._lock:
            period = self._admit()
            try:
                result = fn()
            except BaseException:
                self._complete(period, success=False)
                raise
            self._complete(period, success=True)
            return result

    @property
    def state(self) -> State:
        with self._lock:
            self._refresh(self._clock())
            return self._state

    def stats(self) -> Stats:
        with self._lock:
            return Stats(self._successes, self._failure_count,
                         self._rejections, self._times_opened)

    # -- internals (called with the lock held unless noted) -----------------

    def _admit(self) -> int:
        with self._lock:
            self._refresh(self._clock())
            if self._state is State.CLOSED:
                return self._period
            if (self._state is State.HALF_OPEN
                    and self._in_flight < self._half_open_max_calls):
                self._in_flight += 1
                return self._period
            self._rejections += 1
        raise CircuitOpenError()

    def _complete(self, period: int, success: bool) -> None:
        with self._lock:
            now = self._clock()
            if success:
                self._successes += 1
            else:
                self._failure_count += 1
            if period != self._period:
                return  # admitted in an earlier period: counted, otherwise ignored
            if self._state is State.CLOSED:
                if success:
                    return
                cutoff = now - self._window_ms
                while self._failures and self._failures[0] <= cutoff:
                    self._failures.popleft()
                self._failures.append(now)
                if len(self._failures) >= self._failure_threshold:
                    self._open(now)
            elif self._state is State.HALF_OPEN:
                self._in_flight -= 1
                if not success:
                    self._open(now)
                    return
                self._trial_successes += 1
                if self._trial_successes >= self._success_threshold:
                    self._set_state(State.CLOSED)

    def _refresh(self, now: int) -> None:
        if (self._state is State.OPEN
                and now >= self._opened_at + self._cooldown_ms):
            self._set_state(State.HALF_OPEN)

    def _open(self, now: int) -> None:
        self._opened_at = now
        self._times_opened += 1
        self._set_state(State.OPEN)

    def _set_state(self, state: State) -> None:
        self._state = state
        self._period += 1
        self._failures.clear()
        self._in_flight = 0
        self._trial_successes = 0
