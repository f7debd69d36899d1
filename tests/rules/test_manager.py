"""Rule manager: chaining within a group, query offset, restore, run loop, reload."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.rules.helpers import RecordingSink, groups
from tocsin.clock import FakeClock
from tocsin.promql import Engine, MemStore
from tocsin.rules.alerting import AlertingRule, AlertState
from tocsin.rules.group import Group
from tocsin.rules.manager import RuleManager
from tocsin.storage import Store
from tocsin.storage.migrate import discover
from tocsin.tsdb.db import TSDB

T0 = 1_700_000_040.0  # a whole minute


def _up(store: MemStore, t: float, v: float, job: str = "a") -> None:
    store.append({"__name__": "up", "job": job}, round(t * 1000), v)


async def test_later_rules_see_earlier_results_at_the_same_timestamp() -> None:
    store = MemStore()
    text = """
groups:
  - name: chain
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - record: job:up:double
        expr: job:up:sum * 2
      - alert: Low
        expr: job:up:double < 10
      - record: alerts:count
        expr: count(ALERTS{alertname="Low"})
"""
    m = RuleManager(groups(text), Engine(), store, RecordingSink(), FakeClock(T0), restore=False)
    _up(store, T0, 3)
    await m.evaluate_all(T0)
    eng = Engine()
    assert eng.instant_query(store, "job:up:double", T0).samples[0].value == 6.0
    assert eng.instant_query(store, "alerts:count", T0).samples[0].value == 1.0
    assert all(r.status.health == "ok" for r in m.groups[0].rules)


async def test_query_offset_shifts_query_and_sample_time() -> None:
    store = MemStore()
    text = """
groups:
  - name: off
    query_offset: 1m
    labels: {source: offset}
    rules:
      - record: seen
        expr: up
"""
    m = RuleManager(groups(text), Engine(), store, None, FakeClock(T0), restore=False)
    _up(store, T0 - 60, 1)
    _up(store, T0, 2)
    await m.evaluate_all(T0)
    [series] = list(store.select([], 0, 2**62))[-1:]
    assert dict(series.labels) == {"__name__": "seen", "job": "a", "source": "offset"}
    assert series.timestamps.tolist() == [round((T0 - 60) * 1000)]
    assert series.values.tolist() == [1.0]


async def test_recording_rules_write_stale_markers_for_vanished_series() -> None:
    store = MemStore()
    text = "groups: [{name: g, rules: [{record: r, expr: up == 1}]}]"
    m = RuleManager(groups(text), Engine(), store, None, FakeClock(T0), restore=False)
    _up(store, T0, 1)
    await m.evaluate_all(T0)
    _up(store, T0 + 60, 0)
    await m.evaluate_all(T0 + 60)
    eng = Engine()
    assert len(eng.instant_query(store, "r", T0 + 30).samples) == 1
    assert eng.instant_query(store, "r", T0 + 60).samples == []


HOLD = """
groups:
  - name: hold
    rules:
      - alert: Slow
        expr: up == 0
        for: 20m
"""


async def _run_until(m: RuleManager, store: MemStore, start: float, end: float) -> None:
    t = start
    while t <= end:
        _up(store, t, 0)
        await m.evaluate_all(t)
        t += 60


def _alert(m: RuleManager) -> AlertingRule:
    rule = m.groups[0].rules[0]
    assert isinstance(rule, AlertingRule)
    return rule


async def test_for_state_restored_after_restart() -> None:
    store = MemStore()
    first = RuleManager(groups(HOLD), Engine(), store, None, FakeClock(T0), restore=False)
    await _run_until(first, store, T0, T0 + 300)  # active since T0, then "crash"
    clock = FakeClock(T0 + 660)
    second = RuleManager(groups(HOLD), Engine(), store, None, clock)
    await _run_until(second, store, T0 + 600, T0 + 660)
    [a] = _alert(second).active.values()
    # 5 minutes were spent pending before the crash; downtime does not count.
    assert a.active_at == T0 + 360
    assert _alert(second).restored


async def test_restore_gives_a_grace_period_before_firing() -> None:
    store = MemStore()
    first = RuleManager(groups(HOLD), Engine(), store, None, FakeClock(T0), restore=False)
    await _run_until(first, store, T0, T0 + 900)  # 15 of 20 minutes pending
    now = T0 + 1200
    second = RuleManager(groups(HOLD), Engine(), store, None, FakeClock(now))
    await _run_until(second, store, now - 60, now)
    [a] = _alert(second).active.values()
    assert a.active_at == now + 600 - 1200  # fires no sooner than 10m from now
    assert a.state == AlertState.PENDING


async def test_no_restore_without_for_state_series() -> None:
    store = MemStore()
    m = RuleManager(groups(HOLD), Engine(), store, None, FakeClock(T0 + 60))
    await _run_until(m, store, T0, T0 + 120)
    [a] = _alert(m).active.values()
    assert a.active_at == T0
    # Restored after the second evaluation; until then no ALERTS series are
    # written (as Prometheus).
    assert Engine().instant_query(store, "ALERTS", T0 + 60).samples == []
    assert Engine().instant_query(store, "ALERTS", T0 + 120).samples != []


async def test_run_loop_evaluates_on_aligned_timestamps(clock: FakeClock) -> None:
    store, sink = MemStore(), RecordingSink()
    text = """
groups:
  - name: loop
    interval: 30s
    rules:
      - alert: Always
        expr: vector(1)
"""
    m = RuleManager(groups(text), Engine(), store, sink, clock, restore=False)
    task = asyncio.create_task(m.run())
    await clock.advance(0)
    await clock.advance(95)
    g = m.groups[0]
    assert g.evaluations == 3
    assert g.last_eval_timestamp is not None
    assert g.last_eval_timestamp == g.eval_timestamp(clock.now())
    assert g.last_eval_timestamp <= clock.now() < g.last_eval_timestamp + 30
    # Sent at the first evaluation; the resend delay (1m) has not passed since.
    assert [a.labels["alertname"] for a in sink.all()] == ["Always"]
    m.stop()
    await task
    assert task.done()


async def test_reload_keeps_alert_state_and_stales_removed_rules() -> None:
    store = MemStore()
    text = """
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 5m
      - record: gone
        expr: up
"""
    clock = FakeClock(T0)
    m = RuleManager(groups(text), Engine(), store, None, clock, restore=False)
    await _run_until(m, store, T0, T0 + 120)
    kept = "\n".join(text.splitlines()[:7])
    m.reload(groups(kept))
    await _run_until(m, store, T0 + 180, T0 + 300)
    [a] = _alert(m).active.values()
    assert (a.active_at, a.state) == (T0, AlertState.FIRING)
    assert Engine().instant_query(store, "gone", T0 + 150).samples != []
    assert Engine().instant_query(store, "gone", T0 + 180).samples == []


async def test_for_state_restored_from_the_state_store(tmp_path: Path) -> None:
    """The kv variant: the tsdb lost everything, the state store did not."""
    url = f"sqlite:///{tmp_path}/tocsin.db"
    kv = Store(url, clock=FakeClock(T0))
    kv.migrate([c for c in discover() if c.name == "core"])
    try:
        lost_tsdb = MemStore()
        first = RuleManager(
            groups(HOLD), Engine(), lost_tsdb, None, FakeClock(T0), store=kv, restore=False
        )
        await _run_until(first, lost_tsdb, T0, T0 + 300)
        # Stored per group: last evaluation time and each active alert's start.
        saved = kv.kv_get("rules", "rules.yml;hold")
        assert saved == {
            "t": T0 + 300,
            "alerts": {"Slow": [[{"alertname": "Slow", "job": "a"}, T0]]},
        }
        fresh_tsdb = MemStore()
        second = RuleManager(
            groups(HOLD), Engine(), fresh_tsdb, None, FakeClock(T0 + 660), store=kv
        )
        await _run_until(second, fresh_tsdb, T0 + 600, T0 + 660)
        [a] = _alert(second).active.values()
        assert a.active_at == T0 + 360
    finally:
        kv.close()


async def test_with_the_tsdb_results_alerts_and_restore() -> None:
    """The same flow against tocsin's tsdb (batch appends, staleness, select)."""
    tsdb = TSDB(None, clock=FakeClock(T0)).open()
    text = """
groups:
  - name: hold
    rules:
      - record: up:sum
        expr: sum(up)
      - alert: Slow
        expr: up == 0
        for: 20m
"""
    first = RuleManager(
        groups(text), Engine(), tsdb, None, FakeClock(T0), restore=False, offload_queries=True
    )
    t = T0
    while t <= T0 + 300:
        tsdb.append({"__name__": "up", "job": "a"}, round(t * 1000), 0)
        await first.evaluate_all(t)
        t += 60
    eng = Engine()
    assert eng.instant_query(tsdb, "up:sum", T0 + 300).samples[0].value == 0.0
    [fs] = eng.instant_query(tsdb, "ALERTS_FOR_STATE", T0 + 300).samples
    assert fs.value == T0
    second = RuleManager(
        groups(text), Engine(), tsdb, None, FakeClock(T0 + 660), offload_queries=True
    )
    for t in (T0 + 600, T0 + 660):
        tsdb.append({"__name__": "up", "job": "a"}, round(t * 1000), 0)
        await second.evaluate_all(t)
    rule = second.groups[0].rules[1]
    assert isinstance(rule, AlertingRule)
    [a] = rule.active.values()
    assert a.active_at == T0 + 360


async def test_reload_while_running_restarts_group_loops(clock: FakeClock) -> None:
    store = MemStore()
    one = "groups: [{name: a, interval: 10s, rules: [{record: r1, expr: vector(1)}]}]"
    two = "groups: [{name: b, interval: 10s, rules: [{record: r2, expr: vector(2)}]}]"
    m = RuleManager(groups(one), Engine(), store, None, clock, restore=False)

    def due(g: Group, start: float, end: float) -> int:
        first = g.eval_timestamp(start) + g.interval
        return len([k for k in range(10) if first + k * g.interval <= end])

    task = asyncio.create_task(m.run())
    start = clock.now()
    await clock.advance(0)
    await clock.advance(25)
    old = m.groups[0]
    assert old.evaluations == due(old, start, start + 25)
    done = old.evaluations
    m.reload(groups(two))
    await clock.advance(0)
    await clock.advance(30)
    assert old.evaluations == done  # the removed group's loop stopped
    new = m.groups[0]
    assert new.name == "b"
    assert new.evaluations == due(new, start + 25, start + 55)
    # The removed group's series were marked stale at reload time.
    assert Engine().instant_query(store, "r1", clock.now()).samples == []
    m.stop()
    await task
