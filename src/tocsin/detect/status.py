"""Current detection state of one target and of one source.

`TargetStatus` is the detector's own per-target record, handed out read-only
(do not assign to it). It is kept small: 100,000 of them must fit in a few
tens of megabytes, so history lives in the bits of one int and labels in
shared tuples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tocsin.detect.labels import as_dict
from tocsin.detect.types import SourceState, TargetState

FLAPPING = 1
SUSPECT = 2

# Enum `.value` is slow on hot paths; 100,000 targets are exported at once.
_STATE_TEXT = {s: s.value for s in TargetState}


@dataclass(frozen=True, slots=True)
class ConfirmSpec:
    """A confirm rule compiled for the hot loop."""

    failures: int
    of: int
    mask: int
    up_after: int
    name: str


class TargetStatus:
    """One target: what it is, since when, and why.

    Public: target_id, source, labels, state, since, reason, last_observed
    (time of the last usable observation), latency, fields, and `detail`
    (the detector's memory, for persistence).
    """

    __slots__ = (
        "_base",
        "_bits",
        "_count",
        "_flags",
        "_labels",
        "_rule",
        "_sched",
        "fields",
        "last_observed",
        "latency",
        "reason",
        "since",
        "source",
        "state",
        "target_id",
    )

    target_id: str
    source: str
    state: TargetState
    since: float
    reason: str
    last_observed: float | None
    latency: float | None
    fields: Mapping[str, float]
    _labels: tuple[Any, ...]  # (names, value1, value2, ...), see detect.labels
    _bits: int
    _count: int
    _base: TargetState
    _flags: int
    _rule: ConfirmSpec
    _sched: Any

    @property
    def labels(self) -> dict[str, str]:
        return as_dict(self._labels)

    @property
    def label_tuple(self) -> tuple[Any, ...]:
        """The labels as `(names, value1, value2, ...)`, shared, never changed in place:
        a new tuple whenever the labels change, so `is` tells "unchanged" cheaply."""
        return self._labels

    @property
    def flapping(self) -> bool:
        return bool(self._flags & FLAPPING)

    @property
    def suspect(self) -> bool:
        """Reached the down threshold and waits for a targeted re-check."""
        return bool(self._flags & SUSPECT)

    @property
    def detail(self) -> dict[str, Any]:
        """What a restarted detector needs to carry on where this one stopped."""
        return {
            "bits": self._bits,
            "count": self._count,
            "base": _STATE_TEXT[self._base],
            "flapping": self.flapping,
            "suspect": self.suspect,
        }

    def __repr__(self) -> str:
        return (
            f"TargetStatus({self.target_id!r}, {self.state.value}, since={self.since}, "
            f"reason={self.reason!r})"
        )


@dataclass(slots=True)
class SourceStatus:
    """Detection's view of a whole source."""

    source: str
    state: SourceState
    since: float
    reason: str
    targets: int = 0
    # Targets of this source its complete sweeps stopped listing, and since
    # when (not persisted: after a restart the count starts again).
    missing: dict[str, float] = field(default_factory=dict)
    # When the running mass change began, and whether it was accepted as real
    # (`mass_change.accept_after`); both reset by a sweep below the share.
    mass_since: float | None = None
    mass_accepted: bool = False

    @property
    def detail(self) -> dict[str, Any]:
        return {"targets": self.targets}
