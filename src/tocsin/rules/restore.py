"""Restoring `for` progress of alerts after a restart, as Prometheus does.

For each active alert, the last record of its state (time last seen, time it
became active) says how long it had been pending when tocsin went down. Time
spent down does not count towards `for`, and an alert that was about to fire
gets at least `for_grace_period` more before it fires. Alerts with a `for`
shorter than the grace period are not restored.

Two sources of that record:
- `SeriesForState`: the ALERTS_FOR_STATE series in the tsdb (Prometheus's way;
  survives a restart as far as the tsdb does, i.e. up to its flush interval).
- `KVForState`: tocsin's state store (`Store.kv_put/kv_get`, namespace
  "rules", one key per group), written after every evaluation; survives a
  crash independently of the tsdb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from tocsin.rules.alerting import ALERTS_FOR_STATE, AlertingRule
from tocsin.rules.group import Group
from tocsin.rules.rule import LabelKey, label_key
from tocsin.tsdb.types import LabelMatcher, MatchOp, Queryable, is_stale

KV_NAMESPACE = "rules"

# labels -> (last seen in Unix seconds, active since in Unix seconds)
Found = dict[LabelKey, tuple[float, float]]


class ForStateSource(Protocol):
    def lookup(self, group: Group, rule: AlertingRule, ts: float, tolerance: float) -> Found: ...


class KVStore(Protocol):
    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any: ...

    def kv_put(self, namespace: str, key: str, value: Any) -> None: ...


class SeriesForState:
    """Reads ALERTS_FOR_STATE from the local tsdb."""

    def __init__(self, queryable: Queryable) -> None:
        self.queryable = queryable

    def lookup(self, group: Group, rule: AlertingRule, ts: float, tolerance: float) -> Found:
        matchers = [
            LabelMatcher("__name__", MatchOp.EQ, ALERTS_FOR_STATE),
            LabelMatcher("alertname", MatchOp.EQ, rule.name),
        ]
        matchers += [
            LabelMatcher(k, MatchOp.EQ, v) for k, v in rule.labels.items() if "{{" not in v
        ]
        found: Found = {}
        for s in self.queryable.select(matchers, round((ts - tolerance) * 1000), round(ts * 1000)):
            if len(s.timestamps) == 0 or is_stale(s.values[-1:])[0]:
                continue  # a staleness marker: the alert was not active
            labels = {k: v for k, v in s.labels.items() if k != "__name__"}
            found[label_key(labels)] = (float(s.timestamps[-1] // 1000), float(s.values[-1]))
        return found


class KVForState:
    """Keeps each group's active alerts in the state store."""

    def __init__(self, store: KVStore) -> None:
        self.store = store

    def save(self, group: Group, ts: float) -> None:
        alerts = {
            r.name: [[a.labels, a.active_at] for a in r.active.values() if a.resolved_at is None]
            for r in group.rules
            if isinstance(r, AlertingRule)
        }
        self.store.kv_put(KV_NAMESPACE, group.key, {"t": ts, "alerts": alerts})

    def lookup(self, group: Group, rule: AlertingRule, ts: float, tolerance: float) -> Found:
        saved = self.store.kv_get(KV_NAMESPACE, group.key)
        if not isinstance(saved, dict) or ts - float(saved.get("t", 0)) > tolerance:
            return {}
        seen = float(int(saved["t"]))
        items: Sequence[Any] = saved.get("alerts", {}).get(rule.name, [])
        return {label_key(labels): (seen, float(int(active))) for labels, active in items}


def restore_for_state(
    group: Group,
    ts: float,
    source: ForStateSource,
    outage_tolerance: float,
    for_grace_period: float,
) -> None:
    """Adjust `active_at` of the group's active alerts and mark its rules restored."""
    for rule in group.rules:
        if not isinstance(rule, AlertingRule):
            continue
        if rule.hold >= for_grace_period:
            found = source.lookup(group, rule, ts, outage_tolerance)
            for key, a in rule.active.items():
                hit = found.get(key)
                if hit is None:
                    continue
                down_at, active_at = hit
                remaining = rule.hold - (down_at - active_at)
                if remaining <= 0:
                    pass  # it had already fired: keep its original start
                elif remaining < for_grace_period:
                    active_at = ts + for_grace_period - rule.hold
                else:
                    active_at += ts - down_at
                a.active_at = active_at
        rule.restored = True


__all__ = ["KVForState", "SeriesForState", "restore_for_state"]
