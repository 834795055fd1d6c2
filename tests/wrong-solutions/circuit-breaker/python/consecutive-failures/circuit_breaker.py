import enum
from collections import deque
import threading
from dataclasses import dataclass


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitOpenError(Exception):
    def __init__(self, message="circuit breaker is open"):
        super().__init__(message)


@dataclass(frozen=True)
class Stats:
    successes: int = 0
    failures: int = 0
    rejections: int = 0
    times_opened: int = 0


def _check(clock, **numbers):
    if clock is None:
        raise ValueError("clock is required")
    for name, value in numbers.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1")


class CircuitBreaker:
    def __init__(self, clock, *, failure_threshold, window_ms, cooldown_ms,
                 half_open_max_calls, success_threshold):
        _check(clock, failure_threshold=failure_threshold, window_ms=window_ms,
               cooldown_ms=cooldown_ms, half_open_max_calls=half_open_max_calls,
               success_threshold=success_threshold)
        self.clock = clock
        self.failure_threshold = failure_threshold
        self.window_ms = window_ms
        self.cooldown_ms = cooldown_ms
        self.max_trials = half_open_max_calls
        self.success_threshold = success_threshold
        self.lock = threading.Lock()
        self._state = State.CLOSED
        self.generation = 0
        self.recent_failures = deque()  # failure times in the window
        self.opened_at = 0
        self.trials = 0
        self.trial_successes = 0
        self.counters = {"successes": 0, "failures": 0, "rejections": 0, "times_opened": 0}

    def call(self, fn):
        with self.lock:
            self._tick()
            if self._state is State.OPEN or (
                    self._state is State.HALF_OPEN and self.trials >= self.max_trials):
                self.counters["rejections"] += 1
                raise CircuitOpenError()
            if self._state is State.HALF_OPEN:
                self.trials += 1
            generation = self.generation
        try:
            result = fn()
        except BaseException:
            self._record(generation, False)
            raise
        self._record(generation, True)
        return result

    def _record(self, generation, ok):
        with self.lock:
            self.counters["successes" if ok else "failures"] += 1
            if generation != self.generation:
                return
            if self._state is State.HALF_OPEN:
                self.trials -= 1
                if not ok:
                    self._trip()
                else:
                    self.trial_successes += 1
                    if self.trial_successes >= self.success_threshold:
                        self._move(State.CLOSED)
            elif ok:
                self.recent_failures.clear()  # the dependency answered: it has recovered
            else:
                now = self.clock()
                while self.recent_failures and self.recent_failures[0] <= now - self.window_ms:
                    self.recent_failures.popleft()
                self.recent_failures.append(now)
                if len(self.recent_failures) >= self.failure_threshold:
                    self._trip()

    def _tick(self):
        if self._state is State.OPEN and self.clock() >= self.opened_at + self.cooldown_ms:
            self._move(State.HALF_OPEN)

    def _trip(self):
        self.opened_at = self.clock()
        self.counters["times_opened"] += 1
        self._move(State.OPEN)

    def _move(self, state):
        self._state = state
        self.generation += 1
        self.recent_failures.clear()
        self.trials = 0
        self.trial_successes = 0

    @property
    def state(self):
        with self.lock:
            self._tick()
            return self._state

    def stats(self):
        with self.lock:
            return Stats(**self.counters)
