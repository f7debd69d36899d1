"""A small in-memory EngineFacade for API tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tocsin.api.exposition import TargetExposition
from tocsin.api.facade import ReloadOutcome, TargetRow
from tocsin.detect.types import TargetState
from tocsin.sources.types import CircuitState, SourceHealth


@dataclass
class FakeEngine:
    rows: list[TargetRow] = field(default_factory=list)
    health: list[SourceHealth] = field(default_factory=list)
    incidents: dict[str, str] = field(default_factory=dict)
    heartbeats: dict[str, list[float]] = field(default_factory=dict)
    heartbeat_ok: list[bool] = field(default_factory=list)
    event_queries: list[dict[str, Any]] = field(default_factory=list)
    ready: bool = True
    reload_error: str | None = None
    t: float = 1_700_000_000.0

    def now(self) -> float:
        return self.t

    def is_ready(self) -> bool:
        return self.ready

    def targets(self) -> Sequence[TargetRow]:
        return self.rows

    def target(self, target_id: str) -> TargetRow | None:
        return next((r for r in self.rows if r.target_id == target_id), None)

    def target_history(self, target_id: str, limit: int) -> list[dict[str, Any]]:
        return [{"at": self.t, "old": "unknown", "new": "up", "reason": "first observation"}][
            :limit
        ]

    def events(
        self,
        *,
        source: str | None,
        target_id: str | None,
        kind: str | None,
        since: float | None,
        before_id: int | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        self.event_queries.append(
            {"source": source, "target_id": target_id, "kind": kind, "since": since}
            | {"before_id": before_id, "limit": limit}
        )
        return []

    def source_health(self) -> Sequence[SourceHealth]:
        return self.health

    def source_incidents(self) -> Mapping[str, str]:
        return self.incidents

    def heartbeat(self, target_id: str, *, ok: bool = True) -> bool:
        if target_id not in self.heartbeats:
            return False
        self.heartbeats[target_id].append(self.t)
        self.heartbeat_ok.append(ok)
        return True

    async def reload(self) -> ReloadOutcome:
        return ReloadOutcome(self.reload_error is None, self.reload_error)

    def metrics_text(self) -> str:
        return TargetExposition().render(self.rows)


def sample_engine() -> FakeEngine:
    def row(i: str, state: TargetState, importance: str) -> TargetRow:
        return TargetRow(
            target_id=i,
            source="vendor",
            labels={"venue": i.split("-")[0], "importance": importance},
            state=state,
            since=1_699_999_000.0,
            reason=f"{state.value} because of test",
        )

    return FakeEngine(
        rows=[
            row("v1-z1", TargetState.UP, "critical"),
            row("v1-z2", TargetState.DOWN, "normal"),
            row("v2-z1", TargetState.FLAPPING, "critical"),
            row("v2-z2", TargetState.UNKNOWN, "back-office"),
            row("v3-z1", TargetState.EXPECTED_OFF, "normal"),
        ],
        health=[
            SourceHealth(
                name="vendor",
                healthy=True,
                circuit=CircuitState.CLOSED,
                targets=5,
                requests_total=12,
                budget_per_minute=600,
                budget_available=590,
                estimated_calls_per_hour=1200,
            )
        ],
        heartbeats={"backup-job": []},
    )
