"""What every source shares: the circuit breaker around a sweep and its health."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence

from tocsin.clock import Clock
from tocsin.errors import SourceError
from tocsin.sources.circuit import CircuitBreaker
from tocsin.sources.config import SourceBaseConfig
from tocsin.sources.token_bucket import TokenBucket
from tocsin.sources.types import CircuitState, Observation, SourceHealth, SweepResult

log = logging.getLogger(__name__)


class BaseSource(ABC):
    """Subclasses fill `_collect`; `sweep` adds the breaker and bookkeeping.

    `_collect` appends observations to `out` as it gets them and raises
    SourceError when the source itself fails; what it appended before failing
    is still returned, marked ok=False, complete=False.
    """

    supports_recheck: bool = False

    def __init__(self, cfg: SourceBaseConfig, clock: Clock) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self._clock = clock
        cb = cfg.circuit_breaker
        self.breaker = CircuitBreaker(
            clock,
            failure_threshold=cb.failure_threshold,
            reset_timeout=cb.reset_timeout,
            half_open_max_calls=cb.half_open_max_calls,
        )
        self._last_at: float | None = None
        self._last_seconds: float | None = None
        self._last_ok = True
        self._last_error: str | None = None
        self._target_count = 0

    @abstractmethod
    async def _collect(self, out: list[Observation]) -> None: ...

    @abstractmethod
    async def recheck(self, target_ids: Sequence[str]) -> list[Observation]: ...

    @abstractmethod
    def estimate_calls_per_hour(self) -> float: ...

    @property
    def requests_total(self) -> int:
        return 0

    @property
    def bucket(self) -> TokenBucket | None:
        return None

    async def close(self) -> None:
        return None

    async def sweep(self) -> SweepResult:
        started = self._clock.now()
        requests_before = self.requests_total
        if not self.breaker.allow():
            why = f"circuit open, next try in {self.breaker.retry_in():.0f}s"
            self._last_ok, self._last_error = False, why
            return SweepResult(self.name, started, started, [], ok=False, error=why, complete=False)
        out: list[Observation] = []
        ok = True
        error: str | None = None
        try:
            await self._collect(out)
        except SourceError as exc:
            ok, error = False, str(exc)
        except Exception as exc:  # a bug must not kill the poller; report it as a failure
            log.exception("source %s: sweep crashed", self.name)
            ok, error = False, f"internal error: {type(exc).__name__}: {exc}"
        if ok:
            self.breaker.record_success()
            self._target_count = len(out)
        else:
            self.breaker.record_failure()
        finished = self._clock.now()
        self._last_at, self._last_seconds = finished, finished - started
        self._last_ok, self._last_error = ok, error  # like Prometheus lastError: last sweep only
        return SweepResult(
            self.name,
            started,
            finished,
            out,
            ok=ok,
            error=error,
            requests=self.requests_total - requests_before,
            complete=ok,
        )

    def health(self) -> SourceHealth:
        circuit = self.breaker.state
        bucket = self.bucket
        return SourceHealth(
            name=self.name,
            healthy=self._last_ok and circuit is CircuitState.CLOSED,
            circuit=circuit,
            last_sweep_at=self._last_at,
            last_sweep_seconds=self._last_seconds,
            last_error=self._last_error,
            consecutive_failures=self.breaker.consecutive_failures,
            requests_total=self.requests_total,
            budget_per_minute=self.cfg.budget_per_minute,
            budget_available=bucket.available() if bucket is not None else None,
            estimated_calls_per_hour=self.estimate_calls_per_hour(),
            targets=self._target_count,
        )
