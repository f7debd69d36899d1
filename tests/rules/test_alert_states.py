"""Alert state machine, ALERTS series and sending, as Prometheus has them."""

from __future__ import annotations

import math

import pytest

from tests.rules.helpers import RecordingSink, groups
from tocsin.clock import FakeClock
from tocsin.promql import Engine, MemStore
from tocsin.rules.alerting import AlertingRule
from tocsin.rules.manager import RuleManager

T0 = 1_700_000_000.0


def _manager(rules: str, store: MemStore, sink: RecordingSink, **kw: object) -> RuleManager:
    return RuleManager(groups(rules), Engine(), store, sink, FakeClock(T0), restore=False, **kw)  # type: ignore[arg-type]


def _rule(m: RuleManager, name: str) -> AlertingRule:
    for g in m.groups:
        for r in g.rules:
            if r.name == name and isinstance(r, AlertingRule):
                return r
    raise AssertionError(name)


def _states(r: AlertingRule) -> list[str]:
    return sorted(str(a.state) for a in r.active.values())


ALERT = """
groups:
  - name: g
    interval: 1m
    rules:
      - alert: Down
        expr: up == 0
        for: {for_}
        keep_firing_for: {keep}
        labels: {{severity: page}}
"""

# (for, keep_firing_for, `up` value per minute, expected states per minute)
TABLE = [
    ("2m", "0s", [0, 0, 0, 0], [["pending"], ["pending"], ["firing"], ["firing"]]),
    ("0s", "0s", [0, 1, 1], [["firing"], ["inactive"], ["inactive"]]),
    ("2m", "0s", [0, 1, 0], [["pending"], [], ["pending"]]),
    ("1m", "0s", [0, 0, 1, 0], [["pending"], ["firing"], ["inactive"], ["pending"]]),
    ("0s", "2m", [0, 1, 1, 1, 0], [["firing"], ["firing"], ["firing"], ["inactive"], ["firing"]]),
    ("0s", "2m", [0, 1, 0, 1], [["firing"], ["firing"], ["firing"], ["firing"]]),
]


@pytest.mark.parametrize(("for_", "keep", "values", "expected"), TABLE)
async def test_state_machine(
    for_: str, keep: str, values: list[int], expected: list[list[str]]
) -> None:
    store, sink = MemStore(), RecordingSink()
    m = _manager(ALERT.format(for_=for_, keep=keep), store, sink)
    rule = _rule(m, "Down")
    got = []
    for i, v in enumerate(values):
        t = T0 + 60 * i
        store.append({"__name__": "up", "job": "a"}, round(t * 1000), v)
        await m.evaluate_all(t)
        got.append(_states(rule))
    assert got == expected


async def test_resolved_alerts_are_kept_and_resent_for_15_minutes() -> None:
    store, sink = MemStore(), RecordingSink()
    m = _manager(ALERT.format(for_="0s", keep="0s"), store, sink)
    rule = _rule(m, "Down")
    store.append({"__name__": "up", "job": "a"}, round(T0 * 1000), 0)
    await m.evaluate_all(T0)
    store.append({"__name__": "up", "job": "a"}, round((T0 + 60) * 1000), 1)
    sent_resolved = []
    for i in range(1, 20):
        t = T0 + 60 * i
        sink.batches.clear()
        await m.evaluate_all(t)
        sent_resolved.append((i, [a.ends_at for a in sink.all()]))
        if i <= 16:
            assert len(rule.active) == 1, i
    # Resolved at T0+60: sent at once, then at every resend delay (strictly
    # more than 1m after the last send), each time with endsAt = resolvedAt.
    assert sent_resolved[0] == (1, [T0 + 60])
    assert sent_resolved[1] == (2, [])
    assert sent_resolved[2] == (3, [T0 + 60])
    # Removed once more than 15 minutes have passed since resolution.
    assert rule.active == {}
    assert rule.active_alerts() == []


async def test_firing_alerts_resent_after_resend_delay_with_valid_until() -> None:
    store, sink = MemStore(), RecordingSink()
    m = _manager(ALERT.format(for_="0s", keep="0s"), store, sink, external_labels={"dc": "x"})
    sent = []
    for i in range(5):
        t = T0 + 60 * i
        store.append({"__name__": "up", "job": "a"}, round(t * 1000), 0)
        sink.batches.clear()
        await m.evaluate_all(t)
        sent.append([(a.starts_at, a.ends_at) for a in sink.all()])
    assert sent == [
        [(T0, T0 + 240)],
        [],
        [(T0, T0 + 120 + 240)],
        [],
        [(T0, T0 + 240 + 240)],
    ]
    alert = sink.all()[0]
    assert alert.labels == {"alertname": "Down", "job": "a", "severity": "page", "dc": "x"}
    assert alert.generator_url == "/graph?g0.expr=up+%3D%3D+0&g0.tab=1"


async def test_pending_alerts_are_never_sent() -> None:
    store, sink = MemStore(), RecordingSink()
    m = _manager(ALERT.format(for_="5m", keep="0s"), store, sink)
    for i in range(4):
        t = T0 + 60 * i
        store.append({"__name__": "up", "job": "a"}, round(t * 1000), 0)
        await m.evaluate_all(t)
    assert sink.batches == []


async def test_alerts_series_follow_the_state() -> None:
    store, sink = MemStore(), RecordingSink()
    m = _manager(ALERT.format(for_="1m", keep="0s"), store, sink)
    eng = Engine()
    for i in range(2):
        t = T0 + 60 * i
        store.append({"__name__": "up", "job": "a"}, round(t * 1000), 0)
        await m.evaluate_all(t)
    t1 = T0 + 60
    res = eng.instant_query(store, "ALERTS", t1).samples
    assert [(s.labels["alertstate"], s.labels["severity"], s.value) for s in res] == [
        ("firing", "page", 1.0)
    ]
    # The pending series ended with a staleness marker when the alert fired.
    assert eng.instant_query(store, 'ALERTS{alertstate="pending"}', t1).samples == []
    assert len(eng.instant_query(store, 'ALERTS{alertstate="pending"}', T0).samples) == 1
    fs = eng.instant_query(store, "ALERTS_FOR_STATE", t1).samples
    assert [(s.labels, s.value) for s in fs] == [
        (
            {"__name__": "ALERTS_FOR_STATE", "alertname": "Down", "job": "a", "severity": "page"},
            math.floor(T0),
        )
    ]


async def test_duplicate_labelsets_after_templating_are_an_error() -> None:
    store, sink = MemStore(), RecordingSink()
    text = """
groups:
  - name: g
    rules:
      - alert: Dup
        expr: '{__name__=~"a|b"}'
        labels: {severity: '{{ $value }}'}
      - alert: NoDup
        expr: '{__name__=~"a|b"}'
"""
    m = _manager(text, store, sink)
    store.append({"__name__": "a", "x": "1"}, round(T0 * 1000), 1)
    store.append({"__name__": "b", "x": "1"}, round(T0 * 1000), 2)
    await m.evaluate_all(T0)
    # Different values give different labels: fine.
    assert _rule(m, "Dup").status.last_error is None
    nodup = _rule(m, "NoDup")
    assert nodup.status.health == "err"
    assert nodup.status.last_error == (
        "vector contains metrics with the same labelset after applying alert labels"
    )


async def test_limit_exceeded_is_a_rule_error() -> None:
    store, sink = MemStore(), RecordingSink()
    text = """
groups:
  - name: g
    limit: 1
    rules:
      - alert: Many
        expr: up == 0
      - record: many:up
        expr: up
"""
    m = _manager(text, store, sink)
    for job in ("a", "b"):
        store.append({"__name__": "up", "job": job}, round(T0 * 1000), 0)
    await m.evaluate_all(T0)
    many = _rule(m, "Many")
    assert many.status.last_error == "exceeded limit of 1 with 2 alerts"
    assert many.active == {}
    rec = m.groups[0].rules[1]
    assert rec.status.last_error == "exceeded limit of 1 with 2 series"
    assert sink.batches == []


async def test_annotations_templates_see_labels_value_and_external_data() -> None:
    store, sink = MemStore(), RecordingSink()
    text = """
groups:
  - name: g
    rules:
      - alert: Hot
        expr: temp > 80
        labels: {team: '{{ $labels.room | toUpper }}'}
        annotations:
          summary: >-
            {{ $labels.room }} at {{ $value }}
            ({{ $externalLabels.dc }}, {{ $externalURL }})
          count: '{{ query "count(temp)" | first | value }}'
"""
    m = _manager(text, store, sink, external_labels={"dc": "eu"}, external_url="http://t:1")
    store.append({"__name__": "temp", "room": "lab"}, round(T0 * 1000), 90.5)
    store.append({"__name__": "temp", "room": "hall"}, round(T0 * 1000), 20)
    await m.evaluate_all(T0)
    [a] = sink.all()
    assert a.labels["team"] == "LAB"
    assert a.annotations == {"summary": "lab at 90.5 (eu, http://t:1)", "count": "2"}


async def test_valid_until_uses_the_group_interval_when_longer_than_resend() -> None:
    store, sink = MemStore(), RecordingSink()
    text = ALERT.format(for_="0s", keep="0s").replace("interval: 1m", "interval: 5m")
    m = _manager(text, store, sink)
    for i in range(2):
        t = T0 + 300 * i
        store.append({"__name__": "up", "job": "a"}, round(t * 1000), 0)
        await m.evaluate_all(t)
    # Both evaluations send (5m > resend delay); endsAt = t + 4 x 5m.
    assert [a.ends_at for a in sink.all()] == [T0 + 1200, T0 + 300 + 1200]
