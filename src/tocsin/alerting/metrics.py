"""Dispatcher state as Prometheus metrics, named after Alertmanager's own.

    registry.register(DispatcherCollector(dispatcher))

Gauges are computed at scrape time from the dispatcher's memory; delivery
counters come from `tocsin.notify.sinks.MetricsSink`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tocsin.alerting.dispatcher import Dispatcher
from tocsin.alerting.silences import SilenceState


class DispatcherCollector(Collector):
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.d = dispatcher

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.d.clock.now()
        states: Counter[str] = Counter()
        for a in self.d.alerts:
            if a.resolved(now):
                continue
            silenced = len(self.d.silences) and self.d.silences.is_silenced(a.labels, now)
            states["suppressed" if silenced else "active"] += 1
        alerts = GaugeMetricFamily(
            "tocsin_alerts", "Firing alerts by state (suppressed: silenced).", labels=["state"]
        )
        for state in ("active", "suppressed"):
            alerts.add_metric([state], states[state])
        yield alerts
        yield GaugeMetricFamily(
            "tocsin_alerting_aggregation_groups",
            "Aggregation groups the dispatcher holds.",
            value=len(self.d.groups),
        )
        yield GaugeMetricFamily(
            "tocsin_alerting_nflog_entries",
            "Entries in the notification log.",
            value=len(self.d.nflog),
        )
        by_state = Counter(s.state(now).value for s in self.d.silences.query(now=now))
        silences = GaugeMetricFamily("tocsin_silences", "Silences by state.", labels=["state"])
        for st in SilenceState:
            silences.add_metric([st.value], by_state[st.value])
        yield silences
