"""The embedded runtime: every stage in one asyncio process.

It owns the live objects (store, detector, sources, pollers, simulator) and
implements `api.facade.EngineFacade` for the HTTP layer. Reload swaps the
sources only once the new config has fully validated, so a bad file never
replaces a working one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from prometheus_client import generate_latest

from tocsin.alerting.dispatcher import Dispatcher
from tocsin.alerting.metrics import DispatcherCollector
from tocsin.api.amapi import make_router as make_alert_router
from tocsin.api.exposition import TargetExposition
from tocsin.api.facade import ReloadOutcome, TargetRow
from tocsin.api.promapi import make_router as make_query_router
from tocsin.api.rulesapi import make_rules_router
from tocsin.clock import Clock
from tocsin.config.loader import LoadedConfig, load_config
from tocsin.config.schema import TocsinConfig
from tocsin.detect.detector import Detector
from tocsin.detect.types import SourceState, TargetState
from tocsin.errors import ConfigError
from tocsin.notify.dispatch import Receivers
from tocsin.promql.engine import Engine
from tocsin.rules.manager import RuleManager
from tocsin.runtime.alerting_setup import (
    alerting_config,
    build_dispatcher,
    build_receivers,
    make_retrier,
    reload_dispatcher,
)
from tocsin.runtime.poller import Round, SourcePoller
from tocsin.runtime.selfmetrics import DecisionsCollector, SelfMetrics
from tocsin.runtime.target_series import TargetSeriesWriter
from tocsin.sources.factory import build_source
from tocsin.sources.heartbeat import HeartbeatSource
from tocsin.sources.types import CircuitState, Source, SourceHealth
from tocsin.storage.store import Store
from tocsin.tsdb.db import TSDB
from tocsin.tsdb.scrape import ScrapeManager

log = logging.getLogger(__name__)

# A full snapshot of every target's state is written this often (seconds);
# between snapshots only targets whose state changed are written.
SNAPSHOT_EVERY = 300.0
# kv namespace of the heartbeat sources' last pings, one key per source name.
HEARTBEAT_PINGS_KV = "heartbeat_pings"
# After a reload the previous receivers are closed this long later (seconds),
# so deliveries and retries already under way can finish on them.
RETIRED_RECEIVERS_GRACE = 600.0
DISPATCH_STOP_GRACE = 5.0


class Runtime:
    def __init__(
        self, loaded: LoadedConfig, clock: Clock, *, config_path: Path | None = None
    ) -> None:
        self.loaded = loaded
        self.config: TocsinConfig = loaded.config
        self.config_path = config_path
        self.clock = clock
        self.metrics = SelfMetrics()
        self.exposition = TargetExposition()
        self.store = Store(_resolve_db_url(self.config.database))
        self.detector = Detector(self.config.detection, clock)
        self.metrics.registry.register(DecisionsCollector(lambda: self.detector.decisions))
        self.tsdb = TSDB(self.store.engine, self.config.storage, clock=clock)
        self.target_series = TargetSeriesWriter(self.tsdb)
        # Subqueries without a step use the rule evaluation interval, as in Prometheus.
        q = self.config.query
        self.query_engine = Engine(
            subquery_step=self.config.global_.evaluation_interval,
            lookback_delta=q.lookback_delta,
            max_samples=q.max_samples,
            timeout=q.timeout,  # rules' queries too, as Prometheus's --query.timeout
        )
        self.scraper = ScrapeManager(self.tsdb, clock)
        self.retrier = make_retrier(clock, self.metrics.registry)
        self.dispatcher: Dispatcher | None = None
        self._receivers: Receivers | None = None
        self._retired: list[Receivers] = []
        self.rules: RuleManager | None = None
        self._background: list[asyncio.Task[None]] = []
        self.sources: dict[str, Source] = {}
        self._pollers: dict[str, SourcePoller] = {}
        self._poll_tasks: dict[str, asyncio.Task[None]] = {}
        self._poll = True
        self._simulator: Any = None
        self._ready = False
        self._last_snapshot = 0.0
        self._reload_lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------
    async def start(self, *, poll: bool = True) -> None:
        """Open the store, restore state, start the simulator and the pollers.

        With `poll=False` no polling task is started; tests then drive rounds
        with `sweep_all()` on a FakeClock.
        """
        self._poll = poll
        await asyncio.to_thread(self.store.migrate)
        await asyncio.to_thread(self.tsdb.open)
        saved = await asyncio.to_thread(self.store.load_target_states)
        saved_sources = await asyncio.to_thread(self.store.load_source_states)
        if saved or saved_sources:
            self.detector.restore(saved, saved_sources)
            log.info("restored the state of %d targets", len(saved))
        if self.config.simulator.enabled:
            await self._start_simulator()
        # Built in the loop's thread: the dispatcher schedules its own commits there.
        dispatcher, self._receivers = build_dispatcher(
            self.loaded, self.store, self.clock, self.retrier
        )
        await dispatcher.start()
        self.dispatcher = dispatcher
        self.metrics.registry.register(DispatcherCollector(dispatcher))
        g = self.config.global_
        self.rules = RuleManager(
            self.loaded.rule_groups,
            self.query_engine,
            self.tsdb,
            dispatcher,
            self.clock,
            store=self.store,
            external_labels=g.external_labels,
            external_url=self.config.server.url(),
            default_interval=g.evaluation_interval,
            offload_queries=True,  # the tsdb is thread-safe; keeps the loop responsive
        )
        self._start_sources(self.config)
        self._restore_heartbeat_pings(
            await asyncio.to_thread(self.store.kv_items, HEARTBEAT_PINGS_KV)
        )
        if poll:
            self._background.append(asyncio.create_task(self.tsdb.run(), name="tsdb"))
            self._background.append(asyncio.create_task(self.rules.run(), name="rules"))
            self.scraper.apply(self.config.scrape_configs)
        # The config loaded at start counts as a successful load, as in Prometheus
        # and Alertmanager: an alert on `..._successful == 0` must not fire at boot.
        self.metrics.config_reload_success.set(1)
        self.metrics.config_reload_time.set(self.clock.now())
        self._ready = True

    async def stop(self) -> None:
        self._ready = False
        pings = _heartbeat_pings(self.sources)
        await self._stop_sources()
        if self.rules is not None:
            self.rules.stop()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.scraper.close()
        if self.dispatcher is not None:
            # A few seconds for notifications in flight, so none is sent twice.
            await self.dispatcher.stop(grace=DISPATCH_STOP_GRACE)
        for receivers in [*self._retired, self._receivers]:
            if receivers is not None:
                await receivers.aclose()
        snapshot = self.detector.export()
        await asyncio.to_thread(self._persist, [], snapshot.targets, snapshot.sources, [])
        await asyncio.to_thread(self._save_heartbeat_pings, pings())
        await asyncio.to_thread(self.tsdb.close)
        if self._simulator is not None:
            await self._simulator.stop()
        await asyncio.to_thread(self.store.close)

    async def _start_simulator(self) -> None:
        from tocsin.sim.simulator import start_simulator

        section = self.config.simulator
        host, _, port = section.listen.rpartition(":")
        fleet = section.fleet
        if section.scenario is not None:
            from tocsin.sim.scenario import load_scenario

            scenario = section.scenario
            if not scenario.is_absolute():
                scenario = self.loaded.base_dir / scenario
            fleet = fleet.model_copy(update={"faults": [*fleet.faults, *load_scenario(scenario)]})
        self._simulator = await start_simulator(fleet, self.clock, host=host, port=int(port))
        log.info("fleet simulator: %d zones at http://%s", fleet.zones, section.listen)

    def _start_sources(self, config: TocsinConfig) -> None:
        for cfg in config.sources:
            source = build_source(cfg, self.clock)
            self.sources[cfg.name] = source
            poller = SourcePoller(source, self.detector, self._on_round, self.clock)
            self._pollers[cfg.name] = poller
            if self._poll:
                self._poll_tasks[cfg.name] = asyncio.create_task(
                    poller.run(), name=f"poll:{cfg.name}"
                )
            self.metrics.calls_per_hour.labels(cfg.name).set(source.estimate_calls_per_hour())

    async def evaluate_rules(self) -> None:
        """One evaluation of every rule group at the clock's now (tests)."""
        assert self.rules is not None, "start() first"
        await self.rules.evaluate_all(self.clock.now())

    async def sweep_all(self) -> list[Round]:
        """One round of every source, in config order (for tests)."""
        return [await p.sweep_once() for p in self._pollers.values()]

    async def _stop_sources(self) -> None:
        for poller in self._pollers.values():
            poller.stop()
        for task in self._poll_tasks.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pollers.clear()
        self._poll_tasks.clear()
        for source in self.sources.values():
            await source.close()
        self.sources.clear()

    # -- results of each sweep -------------------------------------------
    async def _on_round(self, rnd: Round) -> None:
        sweep = rnd.sweep
        m = self.metrics
        m.poll_duration.labels(sweep.source).observe(max(0.0, sweep.finished - sweep.started))
        m.sweeps.labels(sweep.source, "ok" if sweep.ok else "failed").inc()
        m.requests.labels(sweep.source).inc(sweep.requests)
        m.source_healthy.labels(sweep.source).set(1 if sweep.ok else 0)
        for change in rnd.changes:
            m.decisions.labels(change.source, change.new.value).inc()
        if rnd.rechecked:
            m.rechecks.labels(sweep.source).inc(len(rnd.rechecked))
        events: list[Any] = [*rnd.changes, *rnd.forgotten]
        for gone in rnd.forgotten:
            m.forgotten.labels(gone.source).inc()
            log.info("target %s: %s", gone.target_id, gone.reason)
            self.target_series.forget(gone.source, gone.target_id, int(sweep.finished * 1000))
        if rnd.source_event is not None:
            events.append(rnd.source_event)
            log.warning("source %s: %s", sweep.source, rnd.source_event.reason)
        swept = [s for s in self.detector.statuses() if s.source == sweep.source]
        self.target_series.write(swept, int(sweep.finished * 1000))
        # What to save is read from the detector here, on the loop; the thread
        # below only writes the lists it is given.
        full = self.clock.now() - self._last_snapshot >= SNAPSHOT_EVERY
        if full:
            self._last_snapshot = self.clock.now()
            targets = self.detector.export().targets
        else:
            targets = self.detector.take_dirty()
        sources = self.detector.source_states() if full or rnd.source_event else []
        forgotten = [c.target_id for c in rnd.forgotten]
        await asyncio.to_thread(self._persist, events, targets, sources, forgotten)
        if full:
            await asyncio.to_thread(self._save_heartbeat_pings, _heartbeat_pings(self.sources)())

    def _persist(
        self, events: list[Any], targets: list[Any], sources: list[Any], forgotten: list[str]
    ) -> None:
        if events:
            self.store.append_events(events)
        if forgotten:
            self.store.delete_target_states(forgotten)
        if targets:
            self.store.save_target_states(targets)
        if sources:
            self.store.save_source_states(sources)

    def _save_heartbeat_pings(self, pings: Mapping[str, dict[str, dict[str, float]]]) -> None:
        for name, saved in pings.items():
            self.store.kv_put(HEARTBEAT_PINGS_KV, name, saved)

    def _restore_heartbeat_pings(self, pings: Mapping[str, Any]) -> None:
        """Pings saved per heartbeat source name, so a target keeps its ping age."""
        for name, source in self.sources.items():
            saved = pings.get(name)
            if isinstance(source, HeartbeatSource) and saved:
                source.restore(saved.get("ok", {}), saved.get("failed", {}))

    # -- reload ------------------------------------------------------------
    async def reload(self) -> ReloadOutcome:
        if self.config_path is None:
            return ReloadOutcome(False, "tocsin was started without a config file")
        async with self._reload_lock:
            try:
                loaded = await asyncio.to_thread(load_config, self.config_path)
                # Built before anything changes: a receiver that cannot be
                # built refuses the reload like any other config problem.
                receivers = (
                    None
                    if self.dispatcher is None
                    else build_receivers(
                        alerting_config(loaded), self.store, self.clock, self.retrier
                    )
                )
            except ConfigError as exc:
                self.metrics.config_reload_success.set(0)
                log.error("config reload refused, keeping the running config:\n%s", exc)
                return ReloadOutcome(False, str(exc))
            # The new sources are new objects: without this, a reload would forget
            # every heartbeat ping, and a job that then stops pinging never goes down.
            pings = _heartbeat_pings(self.sources)
            await self._stop_sources()
            self.loaded, self.config = loaded, loaded.config
            self.detector.reconfigure(self.config.detection)
            if self.rules is not None:
                self.rules.reload(loaded.rule_groups)
            if self.dispatcher is not None and receivers is not None:
                old = self._receivers
                reload_dispatcher(self.dispatcher, loaded, receivers, self.retrier)
                self._receivers = receivers
                if old is not None:
                    # Deliveries already under way keep using the old set; close it
                    # once they have had time to finish (or at stop, whichever first).
                    self._retired.append(old)
                    self._background.append(
                        asyncio.create_task(self._close_later(old), name="close receivers")
                    )
            self._start_sources(self.config)
            self._restore_heartbeat_pings(pings())
            if self._poll:
                self.scraper.apply(self.config.scrape_configs)
            self.metrics.config_reload_success.set(1)
            self.metrics.config_reload_time.set(self.clock.now())
            log.info("config reloaded from %s", self.config_path)
            return ReloadOutcome(True)

    def api_routers(self) -> list[APIRouter]:
        """Routers beyond the fleet API: Prometheus query and rules APIs, Alertmanager v2."""
        assert self.dispatcher is not None, "start() first"
        return [
            make_query_router(
                self.tsdb,
                self.query_engine,
                clock=self.clock,
                timeout=self.config.query.timeout,
                max_samples=self.config.query.max_samples,
            ),
            make_rules_router(lambda: self.rules),
            # /api/v2/status shows the effective config with secrets masked
            # (never the file's text, which may hold them), current after reloads.
            make_alert_router(self.dispatcher),
        ]

    async def _close_later(self, receivers: Receivers) -> None:
        await self.clock.sleep(RETIRED_RECEIVERS_GRACE)
        if receivers in self._retired:
            self._retired.remove(receivers)
            await receivers.aclose()

    # -- EngineFacade ------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def is_ready(self) -> bool:
        return self._ready

    def targets(self) -> Sequence[TargetRow]:
        return [_row(s) for s in self.detector.statuses()]

    def target(self, target_id: str) -> TargetRow | None:
        status = self.detector.get(target_id)
        return None if status is None else _row(status)

    def target_history(self, target_id: str, limit: int) -> list[dict[str, Any]]:
        if limit < 1:
            return []
        return [
            {"at": e.at, "old": e.old, "new": e.new, "reason": e.reason}
            for e in self.store.events(target_id=target_id, limit=limit)
        ]

    def events(
        self,
        *,
        source: str | None,
        target_id: str | None,
        kind: str | None,
        since: float | None,
        before_id: int | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        rows = self.store.events(
            target_id, since, limit, source=source, kind=kind, before_id=before_id
        )
        return [
            {
                "id": e.id,
                "at": e.at,
                "kind": e.kind,
                "source": e.source,
                "target": e.target_id,
                "old": e.old,
                "new": e.new,
                "reason": e.reason,
                "labels": dict(e.labels),
            }
            for e in rows
        ]

    def source_health(self) -> Sequence[SourceHealth]:
        return [s.health() for s in self.sources.values()]

    def source_incidents(self) -> Mapping[str, str]:
        return {
            st.source: st.reason
            for st in self.detector.source_states()
            if st.state is not SourceState.OK
        }

    def heartbeat(self, target_id: str, *, ok: bool = True) -> bool:
        now = self.clock.now()
        for source in self.sources.values():
            if isinstance(source, HeartbeatSource) and source.ping(target_id, now, ok=ok):
                return True
        return False

    def metrics_text(self) -> str:
        m = self.metrics
        for name, source in self.sources.items():
            h = source.health()
            for circuit in CircuitState:
                m.circuit_open.labels(name, circuit.value).set(1 if h.circuit is circuit else 0)
            if h.budget_available is not None:
                m.budget_available.labels(name).set(h.budget_available)
        counts: dict[tuple[str, TargetState], int] = {}
        for s in self.detector.statuses():
            counts[(s.source, s.state)] = counts.get((s.source, s.state), 0) + 1
        for (source_name, state), n in counts.items():
            m.targets.labels(source_name, state.value).set(n)
        for st in self.detector.source_states():
            m.source_incidents.labels(st.source).set(0 if st.state is SourceState.OK else 1)
        own = generate_latest(m.registry).decode()
        return own + self.exposition.render(self.targets())


def _heartbeat_pings(
    sources: Mapping[str, Source],
) -> Callable[[], dict[str, dict[str, dict[str, float]]]]:
    """Read the heartbeat sources' pings later, when the call is made.

    Pings that arrive while the sources are being stopped still land in these
    objects, so a reload reads them after the stop, not before.
    """
    held = {n: s for n, s in sources.items() if isinstance(s, HeartbeatSource)}

    def read() -> dict[str, dict[str, dict[str, float]]]:
        return {n: {"ok": s.snapshot(), "failed": s.failure_snapshot()} for n, s in held.items()}

    return read


def _row(s: Any) -> TargetRow:
    return TargetRow(
        target_id=s.target_id,
        source=s.source,
        labels=s.labels,
        state=s.state,
        since=s.since,
        reason=s.reason,
        last_observed=s.last_observed,
        latency=s.latency,
        fields=s.fields,
    )


def _resolve_db_url(url: str) -> str:
    """Relative SQLite paths are relative to the working directory; create the folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        path = Path(url[len(prefix) :]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return prefix + str(path)
    return url
