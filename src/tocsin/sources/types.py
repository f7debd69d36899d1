"""Plain data passed from sources to detection. No behaviour here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Observation:
    """What one poll said about one target.

    `up` is None when the poll produced no usable answer for the target
    (timeout, malformed item): that is "unknown", never "down".
    """

    target_id: str
    up: bool | None
    at: float
    labels: Mapping[str, str] = field(default_factory=dict)
    latency: float | None = None
    fields: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(slots=True)
class SweepResult:
    """One full pass of a source over its targets.

    `ok` is False when the source itself failed (pages missing, 5xx, circuit
    open): detection then holds target states rather than marking them down.
    """

    source: str
    started: float
    finished: float
    observations: list[Observation]
    ok: bool = True
    error: str | None = None
    requests: int = 0
    complete: bool = True


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class SourceHealth:
    """How a source itself is doing, as reported by the source."""

    name: str
    healthy: bool
    circuit: CircuitState
    last_sweep_at: float | None = None
    last_sweep_seconds: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    requests_total: int = 0
    budget_per_minute: float | None = None
    budget_available: float | None = None
    estimated_calls_per_hour: float | None = None
    targets: int = 0


class Source(Protocol):
    """A poller. `sweep` visits every target once; `recheck` a few again."""

    name: str
    interval: float
    supports_recheck: bool

    async def sweep(self) -> SweepResult: ...

    async def recheck(self, target_ids: Sequence[str]) -> list[Observation]: ...

    def health(self) -> SourceHealth: ...

    def estimate_calls_per_hour(self) -> float: ...

    async def close(self) -> None: ...
