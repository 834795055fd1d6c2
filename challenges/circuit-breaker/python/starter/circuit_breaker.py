"""A thread-safe circuit breaker. See the statement for the exact rules."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, TypeVar

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
        """clock() returns the current time in milliseconds (an int).

        Raises ValueError if a number is below 1 or clock is None.
        """
        # TODO
        raise NotImplementedError

    def call(self, fn: Callable[[], T]) -> T:
        """Run fn if the breaker admits the call and record the outcome.

        Returns fn's result or re-raises fn's exception; raises
        CircuitOpenError, without running fn, when the call is rejected.
        """
        # TODO
        raise NotImplementedError

    @property
    def state(self) -> State:
        """The current state (half-open once the cooldown has elapsed)."""
        # TODO
        raise NotImplementedError

    def stats(self) -> Stats:
        """A snapshot of the counters."""
        # TODO
        raise NotImplementedError
