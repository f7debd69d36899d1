"""Circuit breaker: stop calling a source that keeps failing, probe it later."""

from __future__ import annotations

from tocsin.clock import Clock
from tocsin.sources.types import CircuitState


class CircuitBreaker:
    """closed -> (failure_threshold consecutive failures) -> open
    open -> (reset_timeout elapsed) -> half-open
    half-open: up to half_open_max_calls trial calls; a failure re-opens,
    half_open_max_calls successes close.

    The caller asks `allow()` before a call and reports the outcome with
    `record_success()` / `record_failure()`.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        half_open_max_calls: int = 1,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or reset_timeout < 0:
            raise ValueError("circuit breaker thresholds must be positive")
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.half_open_max_calls = half_open_max_calls
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trials = 0
        self._trial_successes = 0

    @property
    def state(self) -> CircuitState:
        if (
            self._state is CircuitState.OPEN
            and self._clock.now() - self._opened_at >= self.reset_timeout
        ):
            self._state = CircuitState.HALF_OPEN
            self._trials = 0
            self._trial_successes = 0
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a trial call through (0 otherwise)."""
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout - self._clock.now())

    def allow(self) -> bool:
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN:
            return False
        if self._trials < self.half_open_max_calls:
            self._trials += 1
            return True
        return False

    def record_success(self) -> None:
        state = self.state
        self._failures = 0
        if state is CircuitState.HALF_OPEN:
            self._trial_successes += 1
            if self._trial_successes >= self.half_open_max_calls:
                self._state = CircuitState.CLOSED

    def record_failure(self) -> None:
        state = self.state
        self._failures += 1
        if state is CircuitState.HALF_OPEN or (
            state is CircuitState.CLOSED and self._failures >= self.failure_threshold
        ):
            self._open()

    def _open(self) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = self._clock.now()
