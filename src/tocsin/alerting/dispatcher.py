"""The dispatcher: alerts in, aggregation groups, flushes through the pipeline.

    d = Dispatcher(config, store, clock, receivers=receivers)
    await d.start()          # load state, run the scheduler
    await d.put(alerts)      # AlertSink: from rules and POST /api/v2/alerts
    d.apply_config(new)      # reload
    await d.stop()

One scheduler task sleeps on the injected clock until the earliest group due
time (or until an insert makes something due sooner) and starts the flushes
that are due; each flush runs in its own task. Everything a restart needs is
written to the Store as it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from tocsin.alerting import db_migrations as alerting_migrations
from tocsin.alerting.aggregation import AggregationGroup, DueQueue
from tocsin.alerting.config import AlertmanagerConfig
from tocsin.alerting.digest import DigestSchedule
from tocsin.alerting.extensions import AlertingExtensions
from tocsin.alerting.flapping import FlapTracker
from tocsin.alerting.inhibit import Inhibitor
from tocsin.alerting.matchers import matches_all
from tocsin.alerting.model import Alert
from tocsin.alerting.mute import TimeMuter
from tocsin.alerting.nflog import LogEntry, NotificationLog
from tocsin.alerting.persistence import AlertingState, GroupRow, HistoryAttemptSink
from tocsin.alerting.routing import Route, build_tree
from tocsin.alerting.silences import Silences
from tocsin.alerting.stages import (
    DedupStage,
    DeliverStage,
    FanoutStage,
    FlapHoldStage,
    FlushContext,
    MultiStage,
    MuteStage,
    SetNotifiesStage,
    Stage,
    StageError,
)
from tocsin.alerting.store import (
    ActiveAlerts,
    AlertValidationError,
    Change,
    StoredAlert,
    accept,
    fingerprint,
    notification_order,
    timeout_resolution,
)
from tocsin.clock import Clock, SystemClock
from tocsin.errors import TocsinError
from tocsin.notify.retry import AttemptSink, Retrier
from tocsin.notify.sinks import MultiSink
from tocsin.notify.types import Integration
from tocsin.storage import Component, Store
from tocsin.storage import db_migrations as core_migrations

log = logging.getLogger(__name__)

#: How often expired log entries and silences are dropped (Alertmanager: 15m).
MAINTENANCE_INTERVAL = 900.0


# A flush pipeline with what it was built from: (integrations, flap tracker, pipeline).
_CachedPipeline = tuple[Mapping[str, Integration], FlapTracker | None, Stage]


class ReceiverSet(Protocol):
    """What the dispatcher needs of `tocsin.notify.dispatch.Receivers`."""

    receivers: dict[str, Mapping[str, Integration]]
    retrier: Retrier


class AlertsRejected(TocsinError):
    """Some alerts of a put were invalid (the valid ones were accepted)."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """Why an alert is or is not being notified, as the API reports it."""

    state: str  # "active", "suppressed" or "unprocessed"
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]
    muted_by: tuple[str, ...]


_ACTIVE = AlertStatus("active", (), (), ())
_UNPROCESSED = AlertStatus("unprocessed", (), (), ())


class Dispatcher:
    """Alertmanager's dispatcher and notification pipeline, with tocsin's extras."""

    def __init__(
        self,
        config: AlertmanagerConfig,
        store: Store | None = None,
        clock: Clock | None = None,
        receivers: ReceiverSet | None = None,
        *,
        extensions: AlertingExtensions | None = None,
        external_url: str = "",
        commit_delay: float = 0.5,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        # Alert and history writes within this many (real) seconds share one
        # transaction: big transactions cost far less per row than many small
        # ones. Notification log writes are committed at once regardless.
        self.commit_delay = commit_delay
        if store is None:
            store = Store("sqlite://", clock=self.clock)
        # Only the tables this module needs: the core key-value table and its own.
        store.migrate([_component(core_migrations), _component(alerting_migrations)])
        self.store = store
        self.state = AlertingState(store, on_dirty=self._schedule_commit)
        self._commit_handle: asyncio.Handle | None = None
        self._commit_urgent = False
        # Commits run on this thread while the dispatcher runs (not for an
        # in-memory SQLite database: its one connection is shared).
        self._writer: ThreadPoolExecutor | None = None
        self._commit_again = False
        self.attempt_sink: AttemptSink = HistoryAttemptSink(self.state)
        self.external_url = external_url
        self.alerts = ActiveAlerts()
        self.nflog = NotificationLog()
        self.silences = Silences(self.clock)
        self.groups: dict[str, AggregationGroup] = {}
        self._due = DueQueue()
        self._alert_groups: dict[str, set[str]] = {}
        self._saved_groups: dict[str, GroupRow] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._inhibit_dirty = True
        self._inhibit_until = float("inf")
        self.started_at = self.clock.now()
        self._next_maintenance = self.started_at + MAINTENANCE_INTERVAL
        self.receivers: ReceiverSet | None = None
        self.generation = 0  # bumped by every configuration, for caches
        self.flaps: FlapTracker | None = None
        # Pipelines by (id of the route, receiver), valid for one generation.
        self._pipelines: dict[tuple[int, str], _CachedPipeline] = {}
        self._pipelines_generation = -1
        self._configure(config, extensions or AlertingExtensions(), receivers)

    # -- configuration -----------------------------------------------------

    def _configure(
        self,
        config: AlertmanagerConfig,
        extensions: AlertingExtensions,
        receivers: ReceiverSet | None,
    ) -> None:
        self.config = config
        self.extensions = extensions
        self.tree: Route = build_tree(config)
        self.routes_by_id = {r.route_id(): r for r in self.tree.walk()}
        # route_id() walks up the tree: compute it once per route.
        self._route_ids = {id(r): rid for rid, r in self.routes_by_id.items()}
        self.generation += 1
        self.resolve_timeout = config.global_.resolve_timeout
        self.inhibitor = Inhibitor.from_config(config)
        self._inhibit_dirty = True
        intervals = config.time_interval_set()
        self._time_muters = {
            id(r): TimeMuter(intervals, r.mute_time_intervals, r.active_time_intervals)
            for r in self.routes_by_id.values()
            if r.mute_time_intervals or r.active_time_intervals
        }
        self._digests = {
            name: DigestSchedule(opts.digest)
            for name, opts in extensions.receivers.items()
            if opts.digest is not None
        }
        flap = extensions.flap_hold
        old_flaps = self.flaps
        self.flaps = FlapTracker(flap.transitions, flap.window) if flap else None
        if self.flaps is not None and old_flaps is not None:
            # A reload keeps what was seen: state changes and announcements.
            self.flaps.adopt(old_flaps)
        if receivers is not None:
            self.receivers = receivers
            sink = receivers.retrier.sink
            if self.attempt_sink not in getattr(sink, "sinks", (sink,)):
                # Every attempt also lands in the alerting history.
                receivers.retrier.sink = MultiSink(sink, self.attempt_sink)

    def apply_config(
        self,
        config: AlertmanagerConfig,
        receivers: ReceiverSet | None = None,
        extensions: AlertingExtensions | None = None,
    ) -> None:
        """Switch to a new configuration: groups are rebuilt from the active
        alerts (as Alertmanager rebuilds its dispatcher); the notification log
        keeps already-notified alerts from being sent again."""
        self._configure(config, extensions or self.extensions, receivers)
        for g in self.groups.values():
            self._saved_groups[g.key] = self._group_row(g)
        self.groups.clear()
        self._alert_groups.clear()
        self._due.clear()
        now = self.clock.now()
        for a in self.alerts:
            self._route(a, now)
        self.state.delete_groups([k for k in self._saved_groups if k not in self.groups])
        self._saved_groups.clear()
        self._save_groups(self.groups.values())
        self._wake.set()

    def _schedule_commit(self, urgent: bool = False) -> None:
        """Commit buffered state writes `commit_delay` seconds from now, or at
        once when `urgent` (a notification was logged: that must not be lost)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next read or `stop()` commits
        if self._commit_handle is not None:
            if not urgent or self._commit_urgent:
                return
            self._commit_handle.cancel()
        self._commit_urgent = urgent
        if urgent or self.commit_delay <= 0:
            self._commit_handle = loop.call_soon(self._commit)
        else:
            self._commit_handle = loop.call_later(self.commit_delay, self._commit)

    def _commit(self) -> None:
        self._commit_handle = None
        self._commit_urgent = False
        if self._writer is not None:
            self._commit_on_writer(self._writer)
            return
        try:
            self.state.commit()
        except Exception:
            self._commit_failed()

    def _commit_failed(self) -> None:
        # Keep dispatching: the writes stay buffered and are retried in a
        # second; say loudly that the database is behind.
        log.exception("could not write alerting state")
        loop = asyncio.get_running_loop()
        if self._commit_handle is not None:
            self._commit_handle.cancel()
        self._commit_handle = loop.call_later(max(1.0, self.commit_delay), self._commit)

    def _commit_on_writer(self, writer: ThreadPoolExecutor) -> None:
        """Write on the writer thread; one batch at a time, so writes land in
        order: a commit asked for meanwhile starts when this one is done."""
        if self.state.inflight is not None:
            self._commit_again = True
            return
        future = self.state.commit_background(writer)
        if future is None:
            return
        loop = asyncio.get_running_loop()

        def done(f: Future[None]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(self._committed, f)

        future.add_done_callback(done)

    def _committed(self, future: Future[None]) -> None:
        if self.state.inflight is future:  # else a read or stop() settled it
            try:
                self.state.settle()
            except Exception:
                self._commit_failed()
                return
        if self._commit_again:
            self._commit_again = False
            self._commit()

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        """Load persisted state and start the scheduler."""
        now = self.clock.now()
        retention = self.nflog.retention
        self.silences.restore(
            s for s in self.state.load_silences() if s["ends_at"] + retention > now
        )
        self.nflog.load(self.state.load_nflog())
        if self.flaps is not None:
            self.flaps.load(self.state.state_changes_since(now - self.flaps.window))
            self.flaps.announced = set(self.state.kv_get("flap_announced", []))
        self._saved_groups = {g.group_key: g for g in self.state.load_groups()}
        self.alerts.load(self.state.load_alerts())
        for a in self.alerts:
            self._route(a, now)
        stale = [k for k in self._saved_groups if k not in self.groups]
        self.state.delete_groups(stale)
        self._saved_groups.clear()
        self._save_groups(self.groups.values())
        if self._writer is None and not _in_memory(self.store):
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="alerting-writer")
        self._task = asyncio.create_task(self._loop(), name="alerting-dispatcher")

    async def stop(self, grace: float = 0.0) -> None:
        """Stop scheduling. Flushes in progress get `grace` seconds (of real
        time) to finish, then are cancelled; their groups stay due, so a
        cancelled notification is sent again after a restart."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if grace > 0 and self._flushes:
            await asyncio.wait(list(self._flushes), timeout=grace)
        for t in list(self._flushes):
            t.cancel()
        for t in list(self._flushes):
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._save_groups(self.groups.values())
        if self._commit_handle is not None:
            self._commit_handle.cancel()
            self._commit_handle = None
        writer, self._writer = self._writer, None
        self._commit_again = False
        self.state.commit()  # after any write still running on the writer
        if writer is not None:
            writer.shutdown()

    # -- intake -------------------------------------------------------------

    async def put(self, alerts: Sequence[Alert]) -> None:
        """Accept alerts. Invalid ones raise AlertsRejected after the valid
        ones are stored (as Alertmanager's API does)."""
        now = self.clock.now()
        errors: list[str] = []
        accepted: list[StoredAlert] = []
        resolve_timeout = self.resolve_timeout
        for a in alerts:
            try:
                accepted.append(accept(a, now, resolve_timeout))
            except AlertValidationError as exc:
                errors.append(f"{_describe(a.labels)}: {exc}")
        self.ingest(accepted, now)
        if errors:
            raise AlertsRejected(errors)

    def ingest(self, alerts: Iterable[StoredAlert], now: float) -> None:
        """Store completed alerts and put them in their groups."""
        stored: list[StoredAlert] = []
        changes: list[Change] = []
        created: list[AggregationGroup] = []
        upsert, route = self.alerts.upsert, self._route
        inhibiting = bool(self.inhibitor.rules)
        for incoming in alerts:
            alert, moved = upsert(incoming, now)
            stored.append(alert)
            if moved:
                changes.extend(moved)
                if self.flaps is not None:
                    for change in moved:
                        if change.old_state:
                            self.flaps.record(
                                alert.fingerprint, now if change.at is None else change.at
                            )
            new_groups = route(alert, now)
            if new_groups:
                created.extend(new_groups)
            if inhibiting:
                self._note_for_inhibition(alert, bool(moved), now)
        if not stored:
            return
        self.state.save_intake(stored, changes, now)
        self._save_groups(created)
        self._wake.set()

    def _note_for_inhibition(self, alert: StoredAlert, changed: bool, now: float) -> None:
        """Keep the inhibitor's view current without rebuilding it on every put:
        only a possible source changing state makes it stale; a renewed source
        only moves the time at which it next must be looked at."""
        rules = self.inhibitor.rules
        if not rules or not any(matches_all(r.source, alert.labels) for r in rules):
            return
        if changed:
            self._inhibit_dirty = True
        elif not alert.resolved(now):
            self._inhibit_until = min(self._inhibit_until, alert.ends_at)

    def _route(self, alert: StoredAlert, now: float) -> list[AggregationGroup]:
        """Insert into the group of every matching route; returns the groups
        to save (new ones, and ones whose first flush moved)."""
        created: list[AggregationGroup] = []
        fp, labels = alert.fingerprint, alert.labels
        seen = self._alert_groups.get(fp)
        if seen is None:
            seen = self._alert_groups[fp] = set()
        groups = self.groups
        for route in self.tree.matching(labels):
            key = route.group_key(labels)
            g = groups.get(key)
            if g is None:
                g = self._new_group(key, route, alert, now)
                created.append(g)
            elif not g.has_flushed and g.first_due(alert.starts_at, now) < g.next_flush:
                # As Alertmanager's aggrGroup.insert: an alert that has waited
                # group_wait already brings a group's first flush forward.
                g.next_flush = now
                self._due.push(now, key)
                created.append(g)
            g.fingerprints.add(fp)
            seen.add(key)
        return created

    def _new_group(
        self, key: str, route: Route, alert: StoredAlert, now: float
    ) -> AggregationGroup:
        g = AggregationGroup(
            key=key,
            route=route,
            labels=route.group_labels(alert.labels),
            next_flush=0.0,
            created_at=now,
            digest=self._digests.get(route.receiver),
        )
        saved = self._saved_groups.get(key)
        if saved is not None:
            # Resume the persisted schedule rather than waiting group_wait again.
            g.next_flush, g.has_flushed, g.created_at = (
                saved.next_flush,
                saved.has_flushed,
                saved.created_at,
            )
        else:
            g.next_flush = g.first_due(alert.starts_at, now)
        self.groups[key] = g
        self._due.push(g.next_flush, key)
        return g

    # -- scheduling ---------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            if self.clock.now() >= self._next_maintenance:
                self.maintenance()
            self.run_due()
            due = self._due.next_due(self.groups)
            if due is None:
                await self._wake.wait()
                continue
            delay = due - self.clock.now()
            if delay <= 0:
                await asyncio.sleep(0)
                continue
            await self.clock.wait_for(self._wake, delay)

    def maintenance(self) -> None:
        """Forget expired notification log entries and long-expired silences
        (their rows stay in the silence history table)."""
        now = self.clock.now()
        self._next_maintenance = now + MAINTENANCE_INTERVAL
        expired = self.nflog.gc(now)
        if expired:
            self.state.delete_nflog(expired)
        self.silences.gc(self.nflog.retention, now)

    def run_due(self) -> int:
        """Start the flushes that are due now; returns how many."""
        now = self.clock.now()
        keys = self._due.pop_due(now, self.groups)
        for key in keys:
            g = self.groups[key]
            g.flushing = True
            task = asyncio.create_task(self._flush(g), name=f"flush {key}")
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        return len(keys)

    def next_due(self) -> float | None:
        """The earliest time a group flushes next (None when there are none)."""
        return self._due.next_due(self.groups)

    async def settle(self, rounds: int = 200) -> None:
        """Let due flushes start and finish without moving the clock (tests,
        virtual-clock scenarios). Bounded: a flush waiting on the clock (a
        retry backoff) is left running."""
        for _ in range(rounds):
            await asyncio.sleep(0)
            if self._flushes:
                continue
            if self.run_due() == 0:
                return

    # -- flushing -----------------------------------------------------------

    async def _flush(self, g: AggregationGroup) -> None:
        now = self.clock.now()
        try:
            g.start_flush(now)
            alerts = [a for fp in g.fingerprints if (a := self.alerts.get(fp)) is not None]
            resolved_seen = {a.fingerprint: a.updated_at for a in alerts if a.resolved(now)}
            ok = await self._notify(g, alerts, now)
            # A reload during the flush replaced the group: the new one owns
            # the alerts now and resolves them on its own flush.
            if ok and self.groups.get(g.key) is g:
                self._drop_resolved(g, resolved_seen)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("flush of group %s failed", g.key)
        finally:
            g.flushing = False
            if self.groups.get(g.key) is g:
                self._due.push(g.next_flush, g.key)
                self._save_groups([g])
            self._wake.set()

    async def _notify(self, g: AggregationGroup, alerts: list[StoredAlert], now: float) -> bool:
        if not alerts:
            return True
        self._refresh_inhibitor(now)
        options = self.extensions.for_receiver(g.receiver)
        ctx = FlushContext(
            now=now,
            group_key=g.key,
            receiver=g.receiver,
            group_labels=g.labels,
            repeat_interval=g.repeat_interval(),
            deadline=now + g.route.group_interval,
            options=options,
            external_url=self.external_url,
        )
        try:
            pipeline = self._pipeline(g)
            if len(alerts) > 1:
                alerts = sorted(alerts, key=notification_order)
            await pipeline.exec(ctx, alerts)
            return True
        except StageError as exc:
            log.warning("notification for %s to %s failed: %s", g.key, g.receiver, exc)
            return False
        finally:
            self.state.append_notifications(ctx.notifications)

    def _pipeline(self, g: AggregationGroup) -> Stage:
        """The group's pipeline, built once per route, receiver and configuration:
        its stages hold only configuration and shared state, so flushes reuse it."""
        integrations = self._integrations(g.receiver)
        if self._pipelines_generation != self.generation:
            self._pipelines.clear()
            self._pipelines_generation = self.generation
        key = (id(g.route), g.receiver)
        cached = self._pipelines.get(key)
        # The integrations or the flap tracker swapped without a configuration
        # (tests, embedders) invalidate the cached pipeline too.
        if cached is not None and cached[0] is integrations and cached[1] is self.flaps:
            return cached[2]
        pipeline = self._build_pipeline(g, integrations)
        self._pipelines[key] = (integrations, self.flaps, pipeline)
        return pipeline

    def _build_pipeline(
        self, g: AggregationGroup, integrations: Mapping[str, Integration]
    ) -> Stage:
        stages: list[Stage] = []
        if self.flaps is not None:
            tracker = self.flaps
            stages.append(
                FlapHoldStage(
                    tracker, lambda: self.state.kv_put("flap_announced", sorted(tracker.announced))
                )
            )
        time_muter = self._time_muters.get(id(g.route))
        if time_muter is not None:
            stages.append(MuteStage(time_muter))
        if self.inhibitor.rules:
            # Without rules nothing is ever inhibited: no stage to run per flush.
            stages.append(MuteStage(self.inhibitor))
        keep = None
        if self.extensions.for_receiver(g.receiver).notify_resolved_when_silenced:
            keep = self._was_notified_firing
        stages.append(MuteStage(self.silences, keep))
        retrier = self.receivers.retrier if self.receivers is not None else None
        branches: list[Stage] = []
        for name, integration in integrations.items():
            assert retrier is not None
            branches.append(
                MultiStage(
                    [
                        DedupStage(self.nflog, name, integration.send_resolved),
                        DeliverStage(retrier, name, integration),
                        SetNotifiesStage(self.nflog, name, self._persist_nflog),
                    ]
                )
            )
        stages.append(FanoutStage(branches))
        return MultiStage(stages)

    def _integrations(self, receiver: str) -> Mapping[str, Integration]:
        if self.receivers is None:
            return {}
        found = self.receivers.receivers.get(receiver)
        if found is None:
            if any(r.name == receiver for r in self.config.receivers):
                raise_for = f"receiver {receiver!r} has no deliverable integration"
            else:
                raise_for = f"receiver {receiver!r} is not configured"
            raise StageErrorMissing(raise_for)
        return found

    def _was_notified_firing(self, ctx: FlushContext, alert: StoredAlert) -> bool:
        if not alert.resolved(ctx.now):
            return False
        return any(
            alert.fingerprint in e.firing
            for e in self.nflog.for_receiver(ctx.group_key, ctx.receiver)
        )

    def _persist_nflog(self, entry: LogEntry) -> None:
        self.state.save_nflog([entry])
        self._schedule_commit(urgent=True)

    def _drop_resolved(self, g: AggregationGroup, seen: Mapping[str, float]) -> None:
        """Forget resolved alerts the flush delivered and nobody updated since."""
        gone: list[str] = []
        for fp, updated in seen.items():
            a = self.alerts.get(fp)
            if a is None or a.updated_at != updated:
                continue
            g.fingerprints.discard(fp)
            keys = self._alert_groups.get(fp)
            if keys is not None:
                keys.discard(g.key)
                if not keys:
                    del self._alert_groups[fp]
                    gone.append(fp)
        if gone:
            # A resolution by timeout was never pushed: record it now, at its time.
            timed_out = [
                timeout_resolution(a)
                for fp in gone
                if (a := self.alerts.get(fp)) is not None and a.timeout
            ]
            if timed_out:
                self.state.append_changes(timed_out, self.clock.now())
            self.alerts.delete(gone)
            self.state.delete_alerts(gone)
        if not g.fingerprints:
            del self.groups[g.key]
            self.state.delete_groups([g.key])

    def _refresh_inhibitor(self, now: float) -> None:
        if not self.inhibitor.rules:
            return
        if not self._inhibit_dirty and now < self._inhibit_until:
            return
        firing = [a for a in self.alerts if not a.resolved(now)]
        self.inhibitor.set_firing(a.labels for a in firing)
        self._inhibit_until = min((a.ends_at for a in firing), default=float("inf"))
        self._inhibit_dirty = False

    # -- persistence helpers ------------------------------------------------

    def _group_row(self, g: AggregationGroup) -> GroupRow:
        return GroupRow(
            group_key=g.key,
            route_id=self._route_ids.get(id(g.route)) or g.route.route_id(),
            receiver=g.receiver,
            labels=g.labels,  # copied by save_groups
            next_flush=g.next_flush,
            has_flushed=g.has_flushed,
            created_at=g.created_at,
        )

    def _save_groups(self, groups: Iterable[AggregationGroup]) -> None:
        self.state.save_groups([self._group_row(g) for g in groups])

    def save_silences(self) -> None:
        """Persist the silences (after an API change)."""
        self.state.save_silences(self.silences.export())

    # -- queries for the API --------------------------------------------------

    def alert_status(
        self, alert: StoredAlert, now: float, muted_by: Sequence[str] = ()
    ) -> AlertStatus:
        """Why `alert` is (not) notified at `now`, as Alertmanager's API says it.

        `muted_by` are the active time intervals of the aggregation group it
        is shown in (the alerts listing shows none, as Alertmanager does).
        """
        self._refresh_inhibitor(now)
        silenced = tuple(self.silences.is_silenced(alert.labels, now)) if len(self.silences) else ()
        sources = self.inhibitor.inhibiting_sources(alert.labels) if self.inhibitor.rules else []
        inhibited = tuple(sorted({fingerprint(src) for src in sources})) if sources else ()
        if not (silenced or inhibited or muted_by):
            # The usual answers, shared: a listing asks for every alert.
            return _ACTIVE if alert.fingerprint in self._alert_groups else _UNPROCESSED
        return AlertStatus("suppressed", silenced, inhibited, tuple(muted_by))

    def group_muted_by(self, g: AggregationGroup, now: float) -> list[str]:
        """The time intervals muting group `g` now: active mute intervals, or
        the route's active intervals when it is outside all of them."""
        tm = self._time_muters.get(id(g.route))
        if tm is None:
            return []
        muted = tm.intervals.active_names(tm.mute, now)
        if tm.active and not tm.intervals.active_names(tm.active, now):
            muted = [*muted, *tm.active]
        return list(dict.fromkeys(muted))

    def receivers_of(self, labels: Mapping[str, str]) -> list[str]:
        """Receiver of every matching route, in order (repeats kept, as Alertmanager)."""
        return [r.receiver for r in self.tree.match(labels)]

    def uptime_start(self) -> float:
        return self.started_at

    def describe(self) -> dict[str, Any]:
        return {"alerts": len(self.alerts), "groups": len(self.groups), "nflog": len(self.nflog)}


def _in_memory(store: Store) -> bool:
    url = store.engine.url
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _component(module: Any) -> Component:
    return Component(module.COMPONENT, tuple(module.MIGRATIONS))


class StageErrorMissing(StageError):
    """The route names a receiver the delivery side does not have."""


def _describe(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(labels.items())) + "}"
