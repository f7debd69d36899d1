"""Turns sweeps of raw observations into trustworthy target states.

Each target remembers its last usable results as bits of one int (newest at
bit 0, 1 = failed). From those bits and the clock the detector decides, in
this order:

1. base state: down once k of the last n results failed (after a targeted
   re-check where the source offers one), up again after `up_after`
   consecutive successes; unknown until there is evidence;
2. flapping: weighted percent state change over the flap window, entered at
   >= high, left at <= low;
3. shown state: unknown, flapping, down or up; a down or flapping target
   outside its opening hours is expected_off.

Only changes of the shown state become events. A failed sweep, or a sweep
in which too large a share of a source's targets would go down at once,
changes no target at all: it raises one source-level state instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tocsin.clock import Clock
from tocsin.detect.config import ConfirmRule, DetectionConfig, ScheduleConfig, Selector
from tocsin.detect.events import SourceEvent, StateChange, SweepOutcome
from tocsin.detect.flapping import FlapScorer
from tocsin.detect.labels import LabelInterner, LabelMap
from tocsin.detect.status import FLAPPING, SUSPECT, ConfirmSpec, SourceStatus, TargetStatus
from tocsin.detect.types import SourceState, TargetState
from tocsin.sources.types import Observation, SweepResult
from tocsin.storage.records import SourceLike, TargetLike

UNKNOWN = TargetState.UNKNOWN
UP = TargetState.UP
DOWN = TargetState.DOWN
FLAP = TargetState.FLAPPING
OFF = TargetState.EXPECTED_OFF

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_UTC = ZoneInfo("UTC")

#: (schedule, fixed zone or None, name of the label holding the zone or None)
_Schedule = tuple[ScheduleConfig, ZoneInfo | None, str | None]


@dataclass(slots=True)
class Snapshot:
    """Everything a new detector needs to continue without re-alerting."""

    targets: list[TargetStatus] = field(default_factory=list)
    sources: list[SourceStatus] = field(default_factory=list)


# Reasons are built from a handful of numbers; caching them shares one string
# among every target that is down for the same reason.
@lru_cache(maxsize=4096)
def _down_reason(fails: int, of: int, recheck: bool | None) -> str:
    text = f"{fails} of last {of} observations failed"
    if recheck is False:
        text += "; recheck failed"
    return text


@lru_cache(maxsize=4096)
def _up_reason(ups: int, need: int, first: bool) -> str:
    if first:
        return "first usable observation was up"
    return f"{ups} consecutive successful observations (need {need})"


@lru_cache(maxsize=4096)
def _flap_reason(pct: float, start: bool, threshold: float, window: int) -> str:
    if start:
        return (
            f"flapping: {pct:.1f}% state change over last {window} results "
            f"(start at {threshold:g}%)"
        )
    return f"stopped flapping: {pct:.1f}% state change (stop at {threshold:g}%)"


@lru_cache(maxsize=4096)
def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


class Detector:
    """Detection state for every target of every source. Not thread-safe."""

    def __init__(self, config: DetectionConfig, clock: Clock) -> None:
        self._clock = clock
        self._targets: dict[str, TargetStatus] = {}
        self._dirty: dict[str, TargetStatus] = {}
        self._sources: dict[str, SourceStatus] = {}
        self._interner = LabelInterner()
        self._zones: dict[str, ZoneInfo | None] = {}
        #: Count of each kind of decision taken, for /metrics.
        self.decisions: dict[str, int] = dict.fromkeys(
            (
                "suspect",
                "confirmed_down",
                "recovered",
                "flapping_started",
                "flapping_stopped",
                "recheck_passed",
                "recheck_failed",
                "recheck_unknown_target",
                "expected_off",
                "went_unknown",
                "mass_change",
                "source_degraded",
                "source_recovered",
                "forgotten",
                "mass_change_accepted",
            ),
            0,
        )
        self._configure(config)

    # -- configuration ---------------------------------------------------

    def _configure(self, config: DetectionConfig) -> None:
        self.config = config
        self._hbits = config.history_bits()
        self._hmask = (1 << self._hbits) - 1
        self._flap = FlapScorer(config.flapping.window) if config.flapping.enabled else None
        self._rules: list[tuple[_Match, ConfirmSpec]] = []
        default = ConfirmRule(default=True)
        for i, rule in enumerate(config.confirm):
            if rule.default:
                default = rule
            else:
                self._rules.append((_Match(rule), _compile(rule, f"confirm[{i}]")))
        self._default = _compile(default, "default")
        self._schedules: list[tuple[_Match, _Schedule]] = [
            (_Match(s), (s, ZoneInfo(s.timezone) if s.timezone else None, s.timezone_label))
            for s in config.schedules
        ]

    def reconfigure(self, config: DetectionConfig) -> None:
        """Apply a reloaded config; states stay, rules are re-selected."""
        self._configure(config)
        for t in self._targets.values():
            t._bits &= self._hmask
            t._count = min(t._count, self._hbits)
            t._rule, t._sched = self._select(t.source, t.labels)

    def _select(
        self, source: str, labels: Mapping[str, str]
    ) -> tuple[ConfirmSpec, _Schedule | None]:
        spec = self._default
        for match, compiled in self._rules:
            if match(source, labels):
                spec = compiled
                break
        sched = None
        for match, s in self._schedules:
            if match(source, labels):
                sched = s
                break
        return spec, sched

    # -- reading ---------------------------------------------------------

    def get(self, target_id: str) -> TargetStatus | None:
        return self._targets.get(target_id)

    def statuses(self) -> list[TargetStatus]:
        """Every target's record, as a new list (safe to hand to a thread)."""
        return list(self._targets.values())

    def source_states(self) -> list[SourceStatus]:
        return list(self._sources.values())

    def __len__(self) -> int:
        return len(self._targets)

    # -- sweeps ----------------------------------------------------------

    def observe_sweep(self, sweep: SweepResult, *, can_recheck: bool = False) -> SweepOutcome:
        """Feed one sweep. `can_recheck`: the source offers targeted re-checks."""
        now = self._clock.now()
        out = SweepOutcome()
        src = self._source(sweep.source, now)
        if not sweep.ok:
            reason = f"sweep failed: {sweep.error or 'no reason given'}; target states held"
            out.source_event = self._set_source(src, SourceState.DEGRADED, now, reason, src.targets)
            out.held = True
            return out

        observations = sweep.observations
        targets = self._targets
        resolved: list[TargetStatus] = []
        flips = 0
        for o in observations:
            t = targets.get(o.target_id)
            if t is None:
                t = self._new_target(o, src, now)
            elif (
                # Labels from the source's interner are the very tuple the
                # target keeps: one identity test instead of two comparisons.
                not (type(lab := o.labels) is LabelMap and lab.tuple is t._labels)
                and lab
                and (tuple(lab.values()) != t._labels[1:] or tuple(lab) != t._labels[0])
            ):
                self._relabel(t, lab)
            resolved.append(t)
            if o.up is False and t._base is UP and not t._flags & SUSPECT:
                spec = t._rule
                if (((t._bits << 1) | 1) & spec.mask).bit_count() >= spec.failures:
                    flips += 1

        mc = self.config.mass_change
        mass = mc.enabled and src.targets >= mc.min_targets and flips > mc.max_share * src.targets
        if not mass:
            src.mass_since, src.mass_accepted = None, False
        elif not src.mass_accepted:
            share = f"{flips} of {src.targets} targets ({100.0 * flips / src.targets:.1f}%)"
            since = src.mass_since = now if src.mass_since is None else src.mass_since
            if mc.accept_after is None or now - since < mc.accept_after:
                reason = (
                    f"{share} would go down in one sweep (max {100.0 * mc.max_share:g}%); "
                    "target states held"
                )
                out.source_event = self._set_source(
                    src, SourceState.MASS_CHANGE, now, reason, flips
                )
                out.held = True
                return out
            # It outlasted accept_after: a real outage, not the source lying.
            src.mass_accepted = True
            self.decisions["mass_change_accepted"] += 1
            reason = (
                f"{share} still failing after {now - since:g}s of mass change; "
                "accepted as real, detection resumed"
            )
            out.source_event = self._set_source(src, SourceState.OK, now, reason, 0)
        if src.state is not SourceState.OK:
            out.source_event = self._set_source(
                src, SourceState.OK, now, "healthy sweep; detection resumed", 0
            )

        recheck = out.recheck if can_recheck and self.config.recheck else None
        changes = out.changes
        open_cache: dict[tuple[int, str], bool] = {}
        hmask, hbits = self._hmask, self._hbits
        unknown_after = self.config.unknown_after
        for t, o in zip(resolved, observations, strict=True):
            up = o.up
            if up is None:
                if unknown_after is not None and t._base is not UNKNOWN:
                    last = t.last_observed
                    if last is None or now - last >= unknown_after:
                        self._go_unknown(t, now, unknown_after, changes)
                continue
            bits = ((t._bits << 1) | (not up)) & hmask
            t._bits = bits
            if t._count < hbits:
                t._count += 1
            t.last_observed = o.at
            t.latency = o.latency
            t.fields = o.fields or _EMPTY
            if not bits and t._base is UP and not t._flags:
                continue  # steady up, the common case
            self._decide(t, now, recheck, None, changes, open_cache)
        if sweep.complete and self.config.forget_after is not None:
            out.forgotten = self._forget_unlisted(src, resolved, now, self.config.forget_after)
        return out

    def _forget_unlisted(
        self, src: SourceStatus, listed: Sequence[TargetStatus], now: float, after: float
    ) -> list[StateChange]:
        """Track the targets a complete sweep did not list; drop those missing
        for `after` seconds. A sweep that lists every known target (the usual
        case) costs one set and a comparison."""
        ids = {t.target_id for t in listed}
        missing = src.missing
        if len(ids) >= src.targets and not missing:
            return []
        for tid in [tid for tid in missing if tid in ids]:
            del missing[tid]
        if len(ids) < src.targets:
            for t in self._targets.values():
                if t.source == src.source and t.target_id not in ids:
                    missing.setdefault(t.target_id, now)
        out: list[StateChange] = []
        for tid, since in list(missing.items()):
            if now - since < after:
                continue
            del missing[tid]
            gone = self._targets.get(tid)
            if gone is None:
                continue
            self.forget(tid)
            self.decisions["forgotten"] += 1
            out.append(
                StateChange(
                    tid,
                    gone.source,
                    gone.labels,
                    gone.state,
                    TargetState.UNKNOWN,
                    now,
                    f"not listed by {gone.source} for {now - since:g}s; forgotten",
                    kind="forgotten",
                )
            )
        return out

    def observe_recheck(
        self, source: str, observations: Sequence[Observation]
    ) -> list[StateChange]:
        """Feed the results of a targeted re-check of suspect targets.

        A failed re-check confirms down (if the threshold still holds), a
        passed one clears the suspicion, no answer leaves the target suspect.
        Observations of targets this source never swept are skipped and
        counted in `decisions["recheck_unknown_target"]`.
        """
        now = self._clock.now()
        changes: list[StateChange] = []
        open_cache: dict[tuple[int, str], bool] = {}
        for o in observations:
            t = self._targets.get(o.target_id)
            if t is None or t.source != source:
                # Not ours to judge (the target was never swept by this
                # source); counted so it shows in metrics, never guessed at.
                self.decisions["recheck_unknown_target"] += 1
                continue
            if o.up is None:
                continue
            t._bits = ((t._bits << 1) | (not o.up)) & self._hmask
            t._count = min(t._count + 1, self._hbits)
            t.last_observed = o.at
            t.latency = o.latency
            t.fields = o.fields or _EMPTY
            self.decisions["recheck_passed" if o.up else "recheck_failed"] += 1
            self._decide(t, now, None, o.up, changes, open_cache)
        return changes

    # -- decisions -------------------------------------------------------

    def _decide(
        self,
        t: TargetStatus,
        now: float,
        recheck: list[str] | None,
        rechecked: bool | None,
        changes: list[StateChange],
        open_cache: dict[tuple[int, str], bool],
    ) -> None:
        spec = t._rule
        bits = t._bits
        base = t._base
        flags = t._flags
        base_reason = ""
        fails = (bits & spec.mask).bit_count()
        if base is not DOWN:
            if fails >= spec.failures:
                if rechecked is True:
                    flags &= ~SUSPECT  # the re-check says up: hold
                elif rechecked is None and recheck is not None:
                    if not flags & SUSPECT:
                        flags |= SUSPECT
                        self.decisions["suspect"] += 1
                    recheck.append(t.target_id)
                else:
                    base = DOWN
                    flags &= ~SUSPECT
                    base_reason = _down_reason(fails, spec.of, rechecked)
                    self.decisions["confirmed_down"] += 1
            else:
                flags &= ~SUSPECT
                if base is UNKNOWN and not bits & 1:
                    base = UP
                    base_reason = _up_reason(1, spec.up_after, True)
        else:
            ups = min(t._count, (bits & -bits).bit_length() - 1) if bits else t._count
            if ups >= spec.up_after:
                base = UP
                base_reason = _up_reason(ups, spec.up_after, False)
                self.decisions["recovered"] += 1

        flap_reason = ""
        scorer = self._flap
        if scorer is not None and (bits or flags & FLAPPING):
            cfg = self.config.flapping
            pct = round(scorer.percent(bits, t._count), 1)
            if flags & FLAPPING:
                if pct <= cfg.low:
                    flags &= ~FLAPPING
                    flap_reason = _flap_reason(pct, False, cfg.low, scorer.window)
                    self.decisions["flapping_stopped"] += 1
            elif pct >= cfg.high:
                flags |= FLAPPING
                flap_reason = _flap_reason(pct, True, cfg.high, scorer.window)
                self.decisions["flapping_started"] += 1

        if flags != t._flags or base is not t._base:
            self._dirty[t.target_id] = t
        t._base = base
        t._flags = flags
        if base is UNKNOWN:
            new = UNKNOWN
        elif flags & FLAPPING:
            new = FLAP
        else:
            new = base
        hours = ""
        if (new is DOWN or new is FLAP) and t._sched is not None:
            hours = self._closed(t, t._sched, now, open_cache)
            if hours:
                new = OFF
        if new is t.state:
            return
        if not base_reason and new is not FLAP:
            # The shown state changed for another reason (flapping stopped,
            # opening hours began or ended): say what the evidence is now.
            if base is DOWN:
                base_reason = _down_reason(fails, spec.of, None)
            elif base is UP:
                ups = (bits & -bits).bit_length() - 1 if bits else t._count
                base_reason = _up_reason(min(ups, t._count), spec.up_after, False)
        if new is OFF:
            self.decisions["expected_off"] += 1
        reason = _join(hours, flap_reason, base_reason)
        changes.append(StateChange(t.target_id, t.source, t.labels, t.state, new, now, reason))
        t.state = new
        t.since = now
        t.reason = reason
        self._dirty[t.target_id] = t

    def _go_unknown(
        self, t: TargetStatus, now: float, after: float, changes: list[StateChange]
    ) -> None:
        t._base = UNKNOWN
        t._flags = 0
        self._dirty[t.target_id] = t
        self.decisions["went_unknown"] += 1
        if t.state is not UNKNOWN:
            reason = f"no usable observation for {after:g}s"
            changes.append(
                StateChange(t.target_id, t.source, t.labels, t.state, UNKNOWN, now, reason)
            )
            t.state = UNKNOWN
            t.since = now
            t.reason = reason

    def _closed(
        self, t: TargetStatus, sched: _Schedule, now: float, cache: dict[tuple[int, str], bool]
    ) -> str:
        """A reason if `t` is outside its opening hours now, else ''."""
        cfg, zone, label = sched
        if label is not None:
            try:
                name = t._labels[t._labels[0].index(label) + 1]
            except ValueError:
                return ""  # no zone known: never hide a down target
            zone = self._zone(name)
            if zone is None:
                return ""
        elif zone is None:
            zone = _UTC
        key = (id(cfg), zone.key)
        is_open = cache.get(key)
        if is_open is None:
            is_open = cache[key] = cfg.weekly.is_open_at(now, zone)
        return "" if is_open else _closed_reason(cfg.weekly.text, zone.key)

    def _zone(self, name: str) -> ZoneInfo | None:
        if name not in self._zones:
            try:
                self._zones[name] = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                self._zones[name] = None
        return self._zones[name]

    # -- bookkeeping -----------------------------------------------------

    def _source(self, name: str, now: float) -> SourceStatus:
        src = self._sources.get(name)
        if src is None:
            src = self._sources[name] = SourceStatus(name, SourceState.OK, now, "", 0)
        return src

    def _set_source(
        self, src: SourceStatus, state: SourceState, now: float, reason: str, held: int
    ) -> SourceEvent | None:
        old = src.state
        src.reason = reason
        if old is state:
            return None
        key = {
            SourceState.OK: "source_recovered",
            SourceState.DEGRADED: "source_degraded",
            SourceState.MASS_CHANGE: "mass_change",
        }[state]
        self.decisions[key] += 1
        src.state = state
        src.since = now
        return SourceEvent(src.source, old, state, now, reason, held)

    def _new_target(self, o: Observation, src: SourceStatus, now: float) -> TargetStatus:
        t = TargetStatus()
        t.source = src.source
        t._labels = self._interner.intern(o.labels)
        t.target_id = _shared_id(o.target_id, t._labels)
        t._rule, t._sched = self._select(src.source, o.labels)
        t.state = UNKNOWN
        t._base = UNKNOWN
        t.since = now
        t.reason = "no usable observation yet"
        t.last_observed = None
        t.latency = None
        t.fields = _EMPTY
        t._bits = 0
        t._count = 0
        t._flags = 0
        self._targets[o.target_id] = t
        self._dirty[o.target_id] = t
        src.targets += 1
        return t

    def _relabel(self, t: TargetStatus, labels: Mapping[str, str]) -> None:
        self._dirty[t.target_id] = t
        t._labels = self._interner.intern(labels)
        t._rule, t._sched = self._select(t.source, labels)

    def forget(self, target_id: str) -> bool:
        """Drop a target the source no longer lists. True if it was known."""
        t = self._targets.pop(target_id, None)
        self._dirty.pop(target_id, None)
        if t is None:
            return False
        src = self._sources.get(t.source)
        if src is not None:
            src.targets -= 1
        return True

    # -- persistence -----------------------------------------------------

    def take_dirty(self) -> list[TargetStatus]:
        """Targets whose state, flags or labels changed since the last call.

        Save these after every sweep; save `export()` now and then (and at
        shutdown) to persist the observation histories as well.
        """
        dirty = list(self._dirty.values())
        self._dirty.clear()
        return dirty

    def export(self) -> Snapshot:
        return Snapshot(list(self._targets.values()), list(self._sources.values()))

    def restore(self, targets: Iterable[TargetLike], sources: Iterable[SourceLike] = ()) -> None:
        """Load saved state. Emits nothing: a restart must not re-alert."""
        for s in sources:
            src = self._source(s.source, s.since)
            src.state = SourceState(s.state)
            src.since = s.since
            src.reason = s.reason
        for r in targets:
            try:
                state = TargetState(r.state)
            except ValueError:
                raise ValueError(
                    f"target {r.target_id!r}: unknown saved state {r.state!r}"
                ) from None
            detail = r.detail or {}
            src = self._source(r.source, r.since)
            labels = dict(r.labels)
            t = self._targets.get(r.target_id)
            if t is None:
                t = TargetStatus()
                self._targets[r.target_id] = t
                src.targets += 1
            t.source = src.source
            t._labels = self._interner.intern(labels)
            t.target_id = _shared_id(r.target_id, t._labels)
            t._rule, t._sched = self._select(src.source, labels)
            t.state = state
            t.since = r.since
            t.reason = r.reason
            t.last_observed = r.last_observed
            t.latency = r.latency
            t.fields = dict(r.fields) if r.fields else _EMPTY
            t._bits = int(detail.get("bits", 0)) & self._hmask
            t._count = min(int(detail.get("count", 0)), self._hbits)
            base = detail.get("base")
            t._base = TargetState(base) if base else _base_of(state)
            t._flags = (FLAPPING if detail.get("flapping", state is FLAP) else 0) | (
                SUSPECT if detail.get("suspect") else 0
            )


def _shared_id(target_id: str, labels: tuple[Any, ...]) -> str:
    """The label value equal to the id, if any: one string instead of two."""
    for value in labels[1:]:
        if value == target_id:
            return str(value)
    return target_id


def _base_of(state: TargetState) -> TargetState:
    if state is OFF:
        return DOWN
    if state is FLAP:
        return UP
    return state


@lru_cache(maxsize=1024)
def _closed_reason(hours: str, zone: str) -> str:
    return f"outside opening hours ({hours}, {zone})"


class _Match:
    """A selector compiled for speed: label equality plus optional sources."""

    __slots__ = ("items", "sources")

    def __init__(self, selector: Selector) -> None:
        self.items = tuple(selector.match.items())
        self.sources = frozenset(selector.sources) if selector.sources is not None else None

    def __call__(self, source: str, labels: Mapping[str, str]) -> bool:
        if self.sources is not None and source not in self.sources:
            return False
        for name, value in self.items:  # noqa: SIM110 - a loop beats all(genexpr) here
            if labels.get(name) != value:
                return False
        return True


def _compile(rule: ConfirmRule, name: str) -> ConfirmSpec:
    of = rule.down_after.of
    return ConfirmSpec(rule.down_after.failures, of, (1 << of) - 1, rule.up_after, name)
