"""The simulator's logic without HTTP: faults on a timeline, evaluated on a clock.

Fault starts, ends and flap toggles are events on a heap. `sync(now)` applies
every event due by `now` in time order, at its own timestamp, so the ground
truth is exact however rarely it is called (a request, the ticker, a test).
"""

from __future__ import annotations

import heapq
import itertools
import random
from array import array
from dataclasses import dataclass, field
from typing import Any, Literal

from tocsin.errors import TocsinError
from tocsin.sim.config import FaultSpec, SimConfig
from tocsin.sim.fleet import Fleet
from tocsin.sim.truth import TruthLog, TruthRecord, truth_record
from tocsin.sim.world import StatusView, World

FaultState = Literal["pending", "active", "ended", "removed"]
Endpoint = Literal["list", "venue", "zone"]


class FaultError(TocsinError, ValueError):
    """A fault cannot be added: unknown zone or venue, duplicate id, bad fields."""


@dataclass(slots=True)
class Fault:
    id: str
    spec: FaultSpec
    start: float
    end: float | None
    zones: array[int] = field(default_factory=lambda: array("i"))
    venues: list[int] = field(default_factory=list)
    state: FaultState = "pending"
    ended_at: float | None = None
    down: bool = False  # flapping: currently in the down half
    rng: random.Random = field(default_factory=random.Random)
    view: StatusView | None = None  # stale_data: the frozen status
    hits: int = 0

    def describe(self, fleet: Fleet, t0: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.spec.kind,
            "spec": self.spec.model_dump(exclude_none=True),
            "state": self.state,
            "start": self.start,
            "end": self.end,
            "start_offset": self.start - t0,
            "ended_at": self.ended_at,
            "hits": self.hits,
        }
        if self.spec.is_outage:
            out["zones"] = [fleet.zone_id(i) for i in self.zones]
        if self.venues:
            out["venues"] = [fleet.venues[v].id for v in self.venues]
        return out


@dataclass(slots=True)
class ApiEffects:
    """What the active API faults do to one request."""

    status: int | None = None  # answer with this 5xx instead
    delay: float = 0.0  # wait this long first
    corrupt: Literal["malformed_json", "truncated_json"] | None = None
    view: StatusView | None = None  # serve this frozen status (stale_data)
    faults: list[str] = field(default_factory=list)  # kinds that hit, for stats


class SimEngine:
    def __init__(self, config: SimConfig, t0: float) -> None:
        self.config = config
        self.t0 = t0
        self.now = t0
        self.fleet = Fleet(config.venues, config.zones_per_venue, config.seed)
        self.truth_log = TruthLog(config.truth_path, config.truth_memory_limit)
        self.world = World(self.fleet, config.heartbeat_interval, self.truth_log)
        self.faults: dict[str, Fault] = {}
        # Active API faults in start order: what each request consults.
        self._active_api: list[Fault] = []
        self._events: list[tuple[float, int, str, str]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        # Automatic ids (f1, f2, ...) never take an id the scenario names later.
        self._reserved = {spec.id for spec in config.faults if spec.id is not None}
        self.initial_failing = self._pick_initial_failing()
        self.world.take_down(self.initial_failing, t0, "zone_outage", "initial")
        try:
            for spec in config.faults:
                self.add_fault(spec, from_scenario=True)
        except BaseException:
            self.truth_log.close([])
            raise
        self.sync(t0)

    def _pick_initial_failing(self) -> list[int]:
        n = len(self.fleet)
        k = round(n * self.config.failing_share)
        if self.config.failing_share > 0 and k == 0:
            k = 1  # "a few failing" must mean at least one, even in a tiny fleet
        return sorted(random.Random(f"{self.config.seed}:failing").sample(range(n), k))

    # -- faults --------------------------------------------------------------

    def add_fault(self, spec: FaultSpec, *, from_scenario: bool = False) -> Fault:
        """Schedule a fault. `at` is relative to simulator start; absent means now."""
        fid = spec.id or self._next_id()
        if fid in self.faults:
            raise FaultError(f"fault id '{fid}' already exists")
        if spec.at is None:
            start = self.now
        else:
            # A time already past would rewrite history the truth log has written.
            start = max(self.t0 + spec.at, self.t0 if from_scenario else self.now)
        end = start + spec.duration if spec.duration is not None else None
        fault = Fault(fid, spec, start, end, rng=random.Random(f"{self.config.seed}:{fid}"))
        self._resolve_targets(fault)
        self.faults[fid] = fault
        self._schedule(start, fid, "start")
        if end is not None:
            self._schedule(end, fid, "end")
        self.sync(self.now)
        return fault

    def _next_id(self) -> str:
        while True:
            fid = f"f{next(self._ids)}"
            if fid not in self.faults and fid not in self._reserved:
                return fid

    def _resolve_targets(self, fault: Fault) -> None:
        spec, fleet = fault.spec, self.fleet
        picker = random.Random(f"{self.config.seed}:{fault.id}:targets")
        if spec.kind == "venue_outage":
            if spec.venues is not None:
                bad = [v for v in spec.venues if fleet.venue_index(v) is None]
                if bad:
                    raise FaultError(f"unknown venue id(s): {', '.join(bad[:10])}")
                fault.venues = [v for v in map(fleet.venue_index, spec.venues) if v is not None]
            else:
                count = spec.count or 0
                if count > len(fleet.venues):
                    raise FaultError(f"count {count} exceeds the {len(fleet.venues)} venues")
                fault.venues = sorted(picker.sample(range(len(fleet.venues)), count))
            fault.zones = array("i", (i for v in fault.venues for i in fleet.venue_zone_range(v)))
        elif spec.kind in ("zone_outage", "flapping"):
            if spec.zones is not None:
                idx = [fleet.zone_index(z) for z in spec.zones]
                bad = [z for z, i in zip(spec.zones, idx, strict=True) if i is None]
                if bad:
                    raise FaultError(f"unknown zone id(s): {', '.join(bad[:10])}")
                fault.zones = array("i", sorted({i for i in idx if i is not None}))
            else:
                count = spec.count or 0
                if count > len(fleet):
                    raise FaultError(f"count {count} exceeds the {len(fleet)} zones")
                fault.zones = array("i", sorted(picker.sample(range(len(fleet)), count)))

    def remove_fault(self, fid: str, now: float) -> Fault:
        self.sync(now)
        fault = self.faults.get(fid)
        if fault is None:
            raise KeyError(fid)
        if fault.state == "active":
            self._finish(fault, now)
        if fault.state == "pending":
            fault.state = "removed"
            fault.ended_at = now
        return fault

    def _schedule(self, t: float, fid: str, action: str) -> None:
        heapq.heappush(self._events, (t, next(self._seq), fid, action))

    # -- time ----------------------------------------------------------------

    def sync(self, now: float) -> None:
        """Apply every event due by `now`, each at its own time."""
        events = self._events
        while events and events[0][0] <= now:
            t, _, fid, action = heapq.heappop(events)
            fault = self.faults[fid]
            if action == "start" and fault.state == "pending":
                self._begin(fault, t)
            elif action == "toggle" and fault.state == "active":
                self._toggle(fault, t)
            elif action == "end" and fault.state == "active":
                self._finish(fault, t)
        self.now = max(self.now, now)

    def next_event_time(self) -> float | None:
        return self._events[0][0] if self._events else None

    def _begin(self, fault: Fault, t: float) -> None:
        fault.state = "active"
        kind = fault.spec.kind
        if kind in ("zone_outage", "venue_outage", "flapping"):
            self.world.take_down(fault.zones, t, kind, fault.id)
            fault.down = True
            if kind == "flapping":
                self._schedule_toggle(fault, t)
        else:
            if kind == "stale_data":
                fault.view = self.world.frozen_view(t, fault.id)
            self._active_api.append(fault)

    def _schedule_toggle(self, fault: Fault, t: float) -> None:
        nxt = t + fault.spec.effective_period() / 2
        if fault.end is None or nxt < fault.end:
            self._schedule(nxt, fault.id, "toggle")

    def _toggle(self, fault: Fault, t: float) -> None:
        if fault.down:
            self.world.bring_up(fault.zones, t)
        else:
            self.world.take_down(fault.zones, t, "flapping", fault.id)
        fault.down = not fault.down
        self._schedule_toggle(fault, t)

    def _finish(self, fault: Fault, t: float) -> None:
        fault.state = "ended"
        fault.ended_at = t
        if fault.spec.is_outage:
            if fault.down:
                self.world.bring_up(fault.zones, t)
                fault.down = False
        else:
            fault.view = None
            self._active_api.remove(fault)
            self.truth_log.write(self._api_record(fault, t))

    def _api_record(self, fault: Fault, end: float | None) -> TruthRecord:
        return truth_record(None, fault.spec.kind, fault.start, end, fault=fault.id)

    # -- serving -------------------------------------------------------------

    def api_effects(self, endpoint: Endpoint) -> ApiEffects:
        """Decide, for one request, what the active API faults do to it."""
        fx = ApiEffects()
        for fault in self._active_api:
            spec = fault.spec
            kind = spec.kind
            if kind == "stale_data":
                if fx.view is None:
                    fx.view = fault.view
                    fault.hits += 1
                    fx.faults.append(kind)
                continue
            if kind in ("malformed_json", "truncated_json") and (
                endpoint != "list" or fx.corrupt is not None
            ):
                continue
            if fault.rng.random() >= spec.effective_rate():
                continue
            fault.hits += 1
            fx.faults.append(kind)
            if kind == "api_5xx":
                fx.status = fx.status or spec.effective_status()
            elif kind in ("timeout", "slow"):
                fx.delay += spec.effective_delay()
            elif kind == "malformed_json" or kind == "truncated_json":
                fx.corrupt = kind
        return fx

    def view(self) -> StatusView:
        return self.world.live_view(self.now)

    # -- ground truth --------------------------------------------------------

    def open_records(self) -> list[TruthRecord]:
        api = [self._api_record(f, None) for f in self._active_api]
        return [*self.world.open_records(), *api]

    def truth(self) -> list[TruthRecord]:
        """Records so far: closed ones in closing order (the newest
        `truth_memory_limit`), then open ones (end None)."""
        return [*self.truth_log.closed, *self.open_records()]

    def close(self, now: float) -> None:
        self.sync(now)
        self.truth_log.close(self.open_records())
