"""Silences: matchers plus a time window during which matching alerts are muted.

State is computed from the time asked about: pending before `starts_at`,
active from `starts_at` until `ends_at`, expired from `ends_at` on. Updates
follow Alertmanager: a change that keeps the matchers and does not rewrite
the past is applied in place; any other change expires the old silence and
creates a new one, so history is never rewritten.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from tocsin.alerting.matchers import (
    format_matchers,
    matcher_from_api,
    matcher_to_api,
    matches_all,
)
from tocsin.clock import Clock
from tocsin.errors import TocsinError
from tocsin.tsdb.types import LabelMatcher, MatchOp


class SilenceError(TocsinError):
    """A silence request is invalid (`not_found` False) or names no silence."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[LabelMatcher, ...]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""
    updated_at: float = 0.0

    def state(self, now: float) -> SilenceState:
        if now < self.starts_at:
            return SilenceState.PENDING
        if now >= self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.ACTIVE

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (matchers in Alertmanager's API shape) for persistence."""
        return {
            "id": self.id,
            "matchers": [matcher_to_api(m) for m in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Silence:
        return cls(
            id=str(d["id"]),
            matchers=tuple(matcher_from_api(m) for m in d["matchers"]),
            starts_at=float(d["starts_at"]),
            ends_at=float(d["ends_at"]),
            created_by=str(d.get("created_by", "")),
            comment=str(d.get("comment", "")),
            updated_at=float(d.get("updated_at", 0.0)),
        )


def validate_silence(matchers: Sequence[LabelMatcher], starts_at: float, ends_at: float) -> None:
    """Raise SilenceError unless the silence is acceptable to Alertmanager."""
    if not matchers:
        raise SilenceError("at least one matcher required")
    for i, m in enumerate(matchers):
        if not m.name:
            raise SilenceError(f"invalid label matcher {i}: empty label name")
    if all(m.matches("") for m in matchers):
        raise SilenceError("at least one matcher must not match the empty string")
    if ends_at < starts_at:
        raise SilenceError("end time must not be before start time")


class Silences:
    """The set of silences, with time taken from an injected clock."""

    def __init__(self, clock: Clock, new_id: Callable[[], str] | None = None) -> None:
        self._clock = clock
        self._new_id = new_id or (lambda: str(uuid.uuid4()))
        self._by_id: dict[str, Silence] = {}
        # Most silences pin at least one label to a value (zone="z1"): index
        # them by that pair so a lookup probes the alert's labels instead of
        # scanning every silence. The rest are always candidates.
        self._by_pair: dict[tuple[str, str], set[str]] = {}
        self._unkeyed: set[str] = set()

    @staticmethod
    def _key(sil: Silence) -> tuple[str, str] | None:
        for m in sil.matchers:
            if m.op is MatchOp.EQ and m.value != "":
                return (m.name, m.value)
        return None

    def _put(self, sil: Silence) -> None:
        old = self._by_id.get(sil.id)
        if old is not None:
            self._drop_index(old)
        self._by_id[sil.id] = sil
        key = self._key(sil)
        if key is None:
            self._unkeyed.add(sil.id)
        else:
            self._by_pair.setdefault(key, set()).add(sil.id)

    def _drop_index(self, sil: Silence) -> None:
        key = self._key(sil)
        if key is None:
            self._unkeyed.discard(sil.id)
            return
        ids = self._by_pair.get(key)
        if ids is not None:
            ids.discard(sil.id)
            if not ids:
                del self._by_pair[key]

    def _candidates(self, labels: Mapping[str, str]) -> list[Silence]:
        ids = set(self._unkeyed)
        for pair in labels.items():
            found = self._by_pair.get(pair)
            if found:
                ids |= found
        return [self._by_id[i] for i in ids]

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, silence_id: str) -> Silence:
        try:
            return self._by_id[silence_id]
        except KeyError:
            raise SilenceError(f"silence {silence_id} not found", not_found=True) from None

    def add(
        self,
        matchers: Sequence[LabelMatcher],
        ends_at: float,
        *,
        starts_at: float | None = None,
        created_by: str = "",
        comment: str = "",
    ) -> Silence:
        """Create a silence. A start in the past (or none) means now."""
        now = self._clock.now()
        start = now if starts_at is None or starts_at < now else starts_at
        validate_silence(matchers, start, ends_at)
        sil = Silence(
            id=self._new_id(),
            matchers=tuple(matchers),
            starts_at=start,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
            updated_at=now,
        )
        self._put(sil)
        return sil

    def update(
        self,
        silence_id: str,
        *,
        matchers: Sequence[LabelMatcher] | None = None,
        starts_at: float | None = None,
        ends_at: float | None = None,
        created_by: str | None = None,
        comment: str | None = None,
    ) -> Silence:
        """Change a silence; returns the result, which has a new id when the
        change could not be applied in place (see the module docstring)."""
        prev = self.get(silence_id)
        now = self._clock.now()
        want = replace(
            prev,
            matchers=tuple(matchers) if matchers is not None else prev.matchers,
            starts_at=starts_at if starts_at is not None else prev.starts_at,
            ends_at=ends_at if ends_at is not None else prev.ends_at,
            created_by=created_by if created_by is not None else prev.created_by,
            comment=comment if comment is not None else prev.comment,
        )
        validate_silence(want.matchers, want.starts_at, want.ends_at)
        if self._can_update(prev, want, now):
            sil = replace(want, updated_at=now)
            self._put(sil)
            return sil
        # The replacement starts no earlier than now; check it before touching
        # the old silence so a refused update changes nothing.
        validate_silence(want.matchers, max(now, want.starts_at), want.ends_at)
        if prev.state(now) is not SilenceState.EXPIRED:
            self.expire(prev.id)
        return self.add(
            want.matchers,
            want.ends_at,
            starts_at=want.starts_at,
            created_by=want.created_by,
            comment=want.comment,
        )

    @staticmethod
    def _can_update(prev: Silence, want: Silence, now: float) -> bool:
        if prev.matchers != want.matchers:
            return False
        state = prev.state(now)
        if state is SilenceState.ACTIVE:
            return int(prev.starts_at) == int(want.starts_at) and want.ends_at >= now
        if state is SilenceState.PENDING:
            return want.starts_at >= now
        return False

    def expire(self, silence_id: str) -> Silence:
        """End a silence now (a pending one never starts). Expired stays expired."""
        sil = self.get(silence_id)
        now = self._clock.now()
        state = sil.state(now)
        if state is SilenceState.EXPIRED:
            return sil
        if state is SilenceState.PENDING:
            sil = replace(sil, starts_at=now, ends_at=now, updated_at=now)
        else:
            sil = replace(sil, ends_at=now, updated_at=now)
        self._put(sil)
        return sil

    def query(
        self,
        *,
        state: SilenceState | None = None,
        labels: Mapping[str, str] | None = None,
        now: float | None = None,
    ) -> list[Silence]:
        """Silences in `state` (any if None) that match `labels` (any if None)."""
        t = self._clock.now() if now is None else now
        return [
            s
            for s in self._by_id.values()
            if (state is None or s.state(t) is state) and (labels is None or s.matches(labels))
        ]

    def is_silenced(self, labels: Mapping[str, str], now: float | None = None) -> list[str]:
        """Ids of the active silences that match `labels`, sorted."""
        t = self._clock.now() if now is None else now
        return sorted(
            s.id
            for s in self._candidates(labels)
            if s.state(t) is SilenceState.ACTIVE and s.matches(labels)
        )

    def mutes(self, labels: Mapping[str, str], now: float) -> str | None:
        if not self._by_id:
            return None  # the usual case, asked for every alert of every flush
        ids = self.is_silenced(labels, now)
        if not ids:
            return None
        first = self._by_id[ids[0]]
        return f"silenced by {', '.join(ids)} ({format_matchers(first.matchers)})"

    def gc(self, retention: float, now: float | None = None) -> int:
        """Forget silences expired more than `retention` seconds ago."""
        t = self._clock.now() if now is None else now
        old = [s.id for s in self._by_id.values() if s.ends_at + retention <= t]
        for sid in old:
            self._drop_index(self._by_id.pop(sid))
        return len(old)

    def export(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._by_id.values()]

    def restore(self, data: Iterable[Mapping[str, Any]]) -> None:
        """Load exported silences (replacing any with the same id)."""
        for d in data:
            self._put(Silence.from_dict(d))
