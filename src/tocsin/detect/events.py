"""What detection hands out: state changes for the append-only event log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tocsin.detect.types import SourceState, TargetState


@dataclass(frozen=True, slots=True)
class StateChange:
    """A target's state changed. `kind` lets one event log hold both event types."""

    target_id: str
    source: str
    labels: Mapping[str, str]
    old: TargetState
    new: TargetState
    at: float
    reason: str
    kind: str = "target"


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """A source's detection state changed (degraded, mass change, back to ok).

    `held` counts the targets whose state was held by this decision.
    """

    source: str
    old: SourceState
    new: SourceState
    at: float
    reason: str
    held: int = 0
    kind: str = "source"
    target_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SweepOutcome:
    """Result of feeding one sweep to the detector."""

    changes: list[StateChange] = field(default_factory=list)
    recheck: list[str] = field(default_factory=list)
    source_event: SourceEvent | None = None
    held: bool = False
    # Targets dropped because the source stopped listing them (`forget_after`).
    forgotten: list[StateChange] = field(default_factory=list)
