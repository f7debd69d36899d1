"""Heartbeat (push) targets: each must ping within period + grace.

The API calls `ping()`; a sweep only reads the clock, it makes no requests.
Before its first ping a target is unknown, never down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tocsin.clock import Clock
from tocsin.sources.base import BaseSource
from tocsin.sources.config import HeartbeatSourceConfig, HeartbeatTarget
from tocsin.sources.estimate import estimate_calls_per_hour
from tocsin.sources.types import Observation


class HeartbeatSource(BaseSource):
    supports_recheck = False

    def __init__(self, cfg: HeartbeatSourceConfig, clock: Clock) -> None:
        super().__init__(cfg, clock)
        self.cfg: HeartbeatSourceConfig = cfg
        self._targets: dict[str, HeartbeatTarget] = {t.id: t for t in cfg.targets}
        self._labels = {t.id: {**cfg.labels, **t.labels} for t in cfg.targets}
        self._last: dict[str, float] = {}
        self._failed: dict[str, float] = {}  # last explicit failure ping

    def has_target(self, target_id: str) -> bool:
        return target_id in self._targets

    def ping(self, target_id: str, at: float | None = None, *, ok: bool = True) -> bool:
        """Record a ping (ok=False: the job reported its own failure).

        Returns False, recording nothing, when this source has no such target:
        the caller may offer the ping to other heartbeat sources.
        """
        if target_id not in self._targets:
            return False
        when = self._clock.now() if at is None else at
        if ok:
            if when >= self._last.get(target_id, float("-inf")):
                self._last[target_id] = when
        elif when >= self._failed.get(target_id, float("-inf")):
            self._failed[target_id] = when
        return True

    def last_ping(self, target_id: str) -> float | None:
        return self._last.get(target_id)

    def snapshot(self) -> dict[str, float]:
        """Last successful ping per target, for saving across a restart."""
        return dict(self._last)

    def failure_snapshot(self) -> dict[str, float]:
        """Last failure ping per target, saved with `snapshot()`."""
        return dict(self._failed)

    def restore(
        self, last_pings: Mapping[str, float], failed_pings: Mapping[str, float] | None = None
    ) -> None:
        """Load saved pings; ids no longer configured are ignored."""
        for saved, into in ((last_pings, self._last), (failed_pings or {}, self._failed)):
            for tid, at in saved.items():
                if tid in self._targets:
                    into[tid] = max(at, into.get(tid, float("-inf")))

    def _evaluate(self, target_id: str, now: float) -> Observation:
        target = self._targets[target_id]
        labels = self._labels[target_id]
        last = self._last.get(target_id)
        failed = self._failed.get(target_id)
        if failed is not None and (last is None or failed > last):
            return Observation(
                target_id, False, now, labels, error=f"failure ping {now - failed:.0f}s ago"
            )
        if last is None:
            return Observation(target_id, None, now, labels, error="no ping yet")
        age = now - last
        limit = target.period + target.grace
        if age <= limit:
            return Observation(target_id, True, now, labels, fields={"ping_age_seconds": age})
        return Observation(
            target_id,
            False,
            now,
            labels,
            fields={"ping_age_seconds": age},
            error=f"last ping {age:.0f}s ago, overdue by {age - limit:.0f}s "
            f"(period {target.period:g}s + grace {target.grace:g}s)",
        )

    async def _collect(self, out: list[Observation]) -> None:
        now = self._clock.now()
        out.extend(self._evaluate(tid, now) for tid in self._targets)

    async def recheck(self, target_ids: Sequence[str]) -> list[Observation]:
        now = self._clock.now()
        return [
            self._evaluate(t, now)
            if t in self._targets
            else Observation(t, None, now, error="unknown target")
            for t in target_ids
        ]

    def estimate_calls_per_hour(self) -> float:
        return estimate_calls_per_hour(self.cfg)
