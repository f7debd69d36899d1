"""The alert as it travels from rules (or POST /api/v2/alerts) to notify."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class Alert:
    """An alert as Alertmanager's API v2 accepts it (postableAlert).

    Times are Unix seconds. `ends_at` None means "not given": the receiver
    applies resolve_timeout.
    """

    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: float | None = None
    ends_at: float | None = None
    generator_url: str = ""


class AlertSink(Protocol):
    """Where rule evaluation and the v2 API put alerts. One interface for both."""

    async def put(self, alerts: Sequence[Alert]) -> None: ...
