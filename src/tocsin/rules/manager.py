"""The rule manager: runs every group on its interval, on an injected clock.

`tocsin run` builds one RuleManager from the configured rule files; tests
drive it with a FakeClock or call `evaluate_all(t)` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Mapping, Sequence

from tocsin.alerting.model import Alert, AlertSink
from tocsin.clock import Clock
from tocsin.promql.engine import Engine
from tocsin.rules.group import Group, build_rules
from tocsin.rules.model import GroupSpec
from tocsin.rules.query import LocalQuerier, RemoteQuerier, RuleQuerier
from tocsin.rules.restore import KVForState, KVStore, SeriesForState, restore_for_state
from tocsin.tsdb.types import Appender, Queryable

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0
RESEND_DELAY = 60.0
OUTAGE_TOLERANCE = 3600.0
FOR_GRACE_PERIOD = 600.0


class RuleManager:
    """Evaluates rule groups and hands fired/resolved alerts to an AlertSink.

    queryable: what local groups read (the tsdb head). appender: where results,
    ALERTS and ALERTS_FOR_STATE go (defaults to `queryable`, which must then
    also be an Appender). Groups with a `datasource` query it instead, but
    write their results locally too. After a (re)start, `for` progress is
    restored from `store` (a tocsin Store, kv namespace "rules") when given,
    else from ALERTS_FOR_STATE in `queryable` (see docs/rules.md).
    `offload_queries` runs local queries in a worker thread (the queryable
    must then be thread-safe, as the tsdb is; MemStore is not).
    """

    def __init__(
        self,
        groups: Sequence[GroupSpec],
        engine: Engine,
        queryable: Queryable,
        sink: AlertSink | None,
        clock: Clock,
        *,
        appender: Appender | None = None,
        store: KVStore | None = None,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        default_interval: float = DEFAULT_INTERVAL,
        resend_delay: float = RESEND_DELAY,
        outage_tolerance: float = OUTAGE_TOLERANCE,
        for_grace_period: float = FOR_GRACE_PERIOD,
        restore: bool = True,
        offload_queries: bool = False,
    ) -> None:
        self.engine = engine
        self.queryable = queryable
        self.appender: Appender = appender if appender is not None else queryable  # type: ignore[assignment]
        self.sink = sink
        self.clock = clock
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        self.default_interval = default_interval
        self.resend_delay = resend_delay
        self.outage_tolerance = outage_tolerance
        self.for_grace_period = for_grace_period
        self._kv = KVForState(store) if store is not None else None
        self._local = LocalQuerier(engine, queryable, offload=offload_queries)
        self._remote: dict[str, RemoteQuerier] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running = False
        self._stopped: asyncio.Event | None = None
        self.groups: list[Group] = self._build(groups, should_restore=restore)

    # building -----------------------------------------------------------------
    def _querier(self, spec: GroupSpec) -> RuleQuerier:
        if spec.datasource is None:
            return self._local
        key = repr(spec.datasource)  # one HTTP client per distinct datasource
        q = self._remote.get(key)
        if q is None:
            q = self._remote[key] = RemoteQuerier(spec.datasource)
        return q

    def _build(self, specs: Sequence[GroupSpec], *, should_restore: bool) -> list[Group]:
        groups = []
        for spec in specs:
            rules = build_rules(
                spec, self.external_labels, self.external_url, restored=not should_restore
            )
            groups.append(
                Group(
                    spec,
                    rules,
                    spec.interval or self.default_interval,
                    self._querier(spec),
                    self.appender,
                    should_restore=should_restore,
                )
            )
        return groups

    # evaluation ---------------------------------------------------------------
    async def evaluate_group(self, group: Group, ts: float) -> None:
        """One iteration: evaluate, send due alerts, restore `for` state if due."""
        alerts = await group.eval(ts, self.resend_delay, wall_now=self.clock.now())
        await self._send(alerts)
        # As Prometheus: restore after the second evaluation, once the rules
        # have seen fresh data and know which alerts are active.
        if group.should_restore and group.evaluations >= 2:
            source = self._kv or SeriesForState(self.queryable)
            restore_for_state(
                group, self.clock.now(), source, self.outage_tolerance, self.for_grace_period
            )
            group.should_restore = False
        if self._kv is not None and not group.should_restore:
            try:
                self._kv.save(group, ts)
            except Exception:  # a state-store outage must not stop evaluation
                log.exception("could not save alert state of group %s", group.key)

    async def evaluate_all(self, t: float) -> None:
        """Evaluate every group once at time `t` (tests, one-shot runs)."""
        for g in list(self.groups):
            await self.evaluate_group(g, t)

    async def _send(self, alerts: list[Alert]) -> None:
        if not alerts or self.sink is None:
            return
        try:
            await self.sink.put(alerts)
        except Exception:
            log.exception("could not hand %d alerts to the alert sink", len(alerts))

    # running ------------------------------------------------------------------
    async def run(self) -> None:
        """Run all groups until cancelled or `stop()`."""
        self._running = True
        self._stopped = asyncio.Event()
        for g in self.groups:
            self._start(g)
        try:
            await self._stopped.wait()
        finally:
            self._running = False
            await self._stop_tasks()
            await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP clients of remote datasources."""
        for q in self._remote.values():
            await q.aclose()

    def stop(self) -> None:
        """Make `run()` return after stopping every group."""
        if self._stopped is not None:
            self._stopped.set()

    def _start(self, g: Group) -> None:
        self._tasks[g.key] = asyncio.get_running_loop().create_task(
            self._run_group(g), name=f"rules:{g.key}"
        )

    async def _stop_tasks(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def _run_group(self, g: Group) -> None:
        iv = g.interval
        ts = g.eval_timestamp(self.clock.now()) + iv
        await self.clock.sleep(ts - self.clock.now())
        while True:
            try:
                await self.evaluate_group(g, ts)
            except Exception:  # keep the loop alive whatever happens
                log.exception("evaluation of rule group %s failed", g.key)
            nxt = ts + iv
            await self.clock.sleep(nxt - self.clock.now())
            # Skip iterations that were missed (a slow evaluation, a paused process).
            missed = max(0, math.floor((self.clock.now() - ts) / iv) - 1)
            ts += (missed + 1) * iv

    # reloading ----------------------------------------------------------------
    def reload(self, specs: Sequence[GroupSpec]) -> None:
        """Replace the groups, keeping alert state of groups and rules that stay.

        Groups that are new after the first load do not restore `for` state
        (as Prometheus). Series of removed rules and groups get staleness
        markers at their next evaluation, or now for removed groups.
        """
        old = {g.key: g for g in self.groups}
        new = self._build(specs, should_restore=False)
        for g in new:
            prev = old.pop(g.key, None)
            if prev is not None:
                g.copy_state(prev)
        now = self.clock.now()
        for g in old.values():
            g.mark_all_stale()
            g.flush_stale(now)
        self.groups = new
        if self._running:
            for t in self._tasks.values():
                t.cancel()
            self._tasks.clear()
            for g in new:
                self._start(g)
