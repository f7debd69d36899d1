"""What the HTTP layer needs from the running engine.

The API depends on this protocol, not on the runtime's internals, so it can
be tested against a small in-memory implementation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tocsin.detect.types import TargetState
from tocsin.sources.types import SourceHealth


@dataclass(frozen=True, slots=True)
class TargetRow:
    """A target as the API shows it."""

    target_id: str
    source: str
    labels: Mapping[str, str]
    state: TargetState
    since: float | None
    reason: str
    last_observed: float | None = None
    latency: float | None = None
    fields: Mapping[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.target_id,
            "source": self.source,
            "state": self.state.value,
            "since": self.since,
            "reason": self.reason,
            "labels": dict(self.labels),
            "last_observed": self.last_observed,
            "latency_seconds": self.latency,
            "fields": dict(self.fields or {}),
        }


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    ok: bool
    error: str | None = None


class EngineFacade(Protocol):
    def now(self) -> float: ...

    def is_ready(self) -> bool: ...

    def targets(self) -> Sequence[TargetRow]: ...

    def target(self, target_id: str) -> TargetRow | None: ...

    def target_history(self, target_id: str, limit: int) -> list[dict[str, Any]]: ...

    def events(
        self,
        *,
        source: str | None,
        target_id: str | None,
        kind: str | None,
        since: float | None,
        before_id: int | None,
        limit: int,
    ) -> list[dict[str, Any]]: ...

    def source_health(self) -> Sequence[SourceHealth]: ...

    def source_incidents(self) -> Mapping[str, str]: ...

    def heartbeat(self, target_id: str, *, ok: bool = True) -> bool: ...

    async def reload(self) -> ReloadOutcome: ...

    def metrics_text(self) -> str: ...
