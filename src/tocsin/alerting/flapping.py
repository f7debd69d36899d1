"""Flap hold: an alert that keeps changing state is notified once, then held.

An alert flaps when it changed state (firing <-> resolved) more than
`transitions` times within `window`, or when its source says so (the
annotation `tocsin_flapping: "true"`; detection does not add it by itself,
a rule over `tocsin_target_flapping` or an outside sender sets it). A
flapping alert is passed on once, marked with the annotation
`flapping: "true"`, and then left out of notifications until it calms down
(no more than `transitions` changes in the window); after that it is
notified normally again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import replace

from tocsin.alerting.store import StoredAlert

SOURCE_FLAG = "tocsin_flapping"
MARK = "flapping"


class FlapTracker:
    def __init__(self, transitions: int, window: float) -> None:
        self.transitions = transitions
        self.window = window
        self._changes: dict[str, deque[float]] = {}
        self.announced: set[str] = set()

    def adopt(self, other: FlapTracker) -> None:
        """Take over another tracker's history (after a config reload)."""
        self._changes = other._changes
        self.announced = other.announced

    def record(self, fp: str, at: float) -> None:
        q = self._changes.setdefault(fp, deque())
        q.append(at)
        self._trim(q, at)

    def load(self, changes: Iterable[tuple[str, float]]) -> None:
        for fp, at in sorted(changes, key=lambda c: c[1]):
            self.record(fp, at)

    def _trim(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window:
            q.popleft()

    def is_flapping(self, alert: StoredAlert, now: float) -> bool:
        if alert.annotations.get(SOURCE_FLAG) == "true":
            return True
        q = self._changes.get(alert.fingerprint)
        if not q:
            return False
        self._trim(q, now)
        return len(q) > self.transitions

    def hold(
        self, alerts: Iterable[StoredAlert], now: float
    ) -> tuple[list[StoredAlert], bool, bool]:
        """The alerts to pass on, whether the announced set changed, and
        whether one of them is announced as flapping now (that notification
        goes out even if the firing set looks unchanged)."""
        out: list[StoredAlert] = []
        changed = announce = False
        for a in alerts:
            if not self.is_flapping(a, now):
                if a.fingerprint in self.announced:
                    self.announced.discard(a.fingerprint)
                    changed = True
                out.append(a)
                continue
            if a.fingerprint in self.announced:
                continue
            self.announced.add(a.fingerprint)
            changed = announce = True
            out.append(_marked(a))
        return out, changed, announce


def _marked(a: StoredAlert) -> StoredAlert:
    notes: Mapping[str, str] = {**a.annotations, MARK: "true"}
    return replace(a, annotations=notes)
