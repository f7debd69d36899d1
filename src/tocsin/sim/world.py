"""Real zone status over time, kept in flat arrays, and the outages it implies.

A zone is offline while at least one outage cause holds it down (an initial
failure, a zone or venue outage, the down half of a flap). Overlapping causes
make one outage in the ground truth, attributed to the cause that opened it.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

from tocsin.sim.fleet import Fleet
from tocsin.sim.truth import TruthLog, TruthRecord, truth_record


@dataclass(frozen=True, slots=True)
class StatusView:
    """What the API serves: live status, or a frozen copy under `stale_data`."""

    offline: bytes | bytearray
    changed: array[float]
    slot_time: float
    key: tuple[object, ...]

    def last_seen(self, i: int) -> float:
        if self.offline[i]:
            return self.changed[i]
        return max(self.slot_time, self.changed[i])


class World:
    def __init__(self, fleet: Fleet, heartbeat_interval: float, truth: TruthLog) -> None:
        n = len(fleet)
        self.fleet = fleet
        self.heartbeat_interval = heartbeat_interval
        self.truth = truth
        self.causes = array("H", bytes(2 * n))
        self.offline = bytearray(n)
        # Time of the last status change; also the start of a zone's open outage.
        self.changed = array("d", bytes(8 * n))
        # Open outages only: zone index -> (kind, fault id) of the cause that opened it.
        self.opened_by: dict[int, tuple[str, str | None]] = {}
        self.version = 0

    def take_down(self, zones: Iterable[int], t: float, kind: str, fault: str | None) -> None:
        changed = False
        for i in zones:
            self.causes[i] += 1
            if self.causes[i] == 1:
                self.offline[i] = 1
                self.changed[i] = t
                self.opened_by[i] = (kind, fault)
                changed = True
        if changed:
            self.version += 1

    def bring_up(self, zones: Iterable[int], t: float) -> None:
        changed = False
        for i in zones:
            if self.causes[i] == 0:
                continue
            self.causes[i] -= 1
            if self.causes[i] == 0:
                self.offline[i] = 0
                kind, fault = self.opened_by.pop(i)
                self.truth.write(self._record(i, kind, fault, self.changed[i], t))
                self.changed[i] = t
                changed = True
        if changed:
            self.version += 1

    def _record(
        self, i: int, kind: str, fault: str | None, start: float, end: float | None
    ) -> TruthRecord:
        fleet = self.fleet
        venue = fleet.venues[fleet.venue_of(i)].id
        return truth_record(fleet.zone_id(i), kind, start, end, venue=venue, fault=fault)

    def open_records(self) -> list[TruthRecord]:
        return [
            self._record(i, kind, fault, self.changed[i], None)
            for i, (kind, fault) in sorted(self.opened_by.items())
        ]

    def slot_time(self, t: float) -> float:
        return math.floor(t / self.heartbeat_interval) * self.heartbeat_interval

    def live_view(self, t: float) -> StatusView:
        slot = self.slot_time(t)
        return StatusView(self.offline, self.changed, slot, ("live", self.version, slot))

    def frozen_view(self, t: float, tag: str) -> StatusView:
        return StatusView(
            bytes(self.offline), array("d", self.changed), self.slot_time(t), ("stale", tag)
        )

    def offline_count(self) -> int:
        return len(self.opened_by)
