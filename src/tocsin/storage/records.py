"""Rows as the store returns them, and the shapes it accepts.

The store accepts any object with the right attributes (detection's
`StateChange`, `SourceEvent`, `TargetStatus` and `SourceStatus` all fit), so
storage does not depend on the modules that use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class EventLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def source(self) -> str: ...
    @property
    def target_id(self) -> str | None: ...
    @property
    def old(self) -> str: ...
    @property
    def new(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...


class TargetLike(Protocol):
    @property
    def target_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def since(self) -> float: ...
    @property
    def reason(self) -> str: ...
    @property
    def last_observed(self) -> float | None: ...
    @property
    def latency(self) -> float | None: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def fields(self) -> Mapping[str, float]: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


class SourceLike(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def since(self) -> float: ...
    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class EventRow:
    """One entry of the append-only event log. `id` grows with every append."""

    id: int
    at: float
    kind: str
    source: str
    target_id: str | None
    old: str
    new: str
    reason: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TargetRow:
    target_id: str
    source: str
    state: str
    since: float
    reason: str
    last_observed: float | None
    latency: float | None
    labels: Mapping[str, str]
    fields: Mapping[str, float]
    detail: Mapping[str, Any]
    updated_at: float


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: str
    state: str
    since: float
    reason: str
    detail: Mapping[str, Any]
    updated_at: float
