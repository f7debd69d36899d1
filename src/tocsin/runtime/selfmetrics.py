"""tocsin's metrics about itself, exposed on /metrics.

One registry per runtime (not prometheus_client's global one) so several
runtimes can live in one test process without clashing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

# `*_created` series double the exposition for no use to anyone scraping tocsin.
disable_created_metrics()


class SelfMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.poll_duration = Histogram(
            "tocsin_source_sweep_duration_seconds",
            "Wall time of one sweep of a source over all its targets.",
            ["source"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.sweeps = Counter(
            "tocsin_source_sweeps_total",
            "Sweeps run per source, by outcome (ok, failed).",
            ["source", "outcome"],
            registry=r,
        )
        self.requests = Counter(
            "tocsin_source_requests_total",
            "Requests spent against each source's API (its budget).",
            ["source"],
            registry=r,
        )
        self.circuit_open = Gauge(
            "tocsin_source_circuit_open",
            "1 while a source's circuit breaker is open or half-open.",
            ["source", "state"],
            registry=r,
        )
        self.source_healthy = Gauge(
            "tocsin_source_healthy",
            "1 when the source's last sweep succeeded.",
            ["source"],
            registry=r,
        )
        self.budget_available = Gauge(
            "tocsin_source_budget_available",
            "Requests left in the source's token bucket.",
            ["source"],
            registry=r,
        )
        self.calls_per_hour = Gauge(
            "tocsin_source_estimated_calls_per_hour",
            "API calls per hour the source needs at its configured interval.",
            ["source"],
            registry=r,
        )
        self.decisions = Counter(
            "tocsin_detection_state_changes_total",
            "Target state changes decided by detection, by new state.",
            ["source", "state"],
            registry=r,
        )
        self.forgotten = Counter(
            "tocsin_targets_forgotten_total",
            "Targets dropped because their source stopped listing them (forget_after).",
            ["source"],
            registry=r,
        )
        self.rechecks = Counter(
            "tocsin_detection_rechecks_total",
            "Targeted re-checks requested before confirming a target down.",
            ["source"],
            registry=r,
        )
        self.source_incidents = Gauge(
            "tocsin_source_incident",
            "1 while a source-level incident (source failing, mass change) holds target states.",
            ["source"],
            registry=r,
        )
        self.targets = Gauge(
            "tocsin_targets",
            "Targets per source and state.",
            ["source", "state"],
            registry=r,
        )
        self.config_reload_success = Gauge(
            "tocsin_config_last_reload_successful",
            "1 if the last configuration reload succeeded.",
            registry=r,
        )
        self.config_reload_time = Gauge(
            "tocsin_config_last_reload_success_timestamp_seconds",
            "Time of the last successful configuration reload.",
            registry=r,
        )


class DecisionsCollector(Collector):
    """Detection's own tally of decisions, read at scrape time.

    The detector counts in a plain dict (no prometheus_client on its hot path);
    this turns the dict into one counter family when /metrics is rendered.
    """

    def __init__(self, read: Callable[[], Mapping[str, int]]) -> None:
        self._read = read

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "tocsin_detection_decisions",
            "Decisions taken by detection, by kind (suspect, confirmed_down, recovered, "
            "flapping_started, recheck_failed, mass_change, ...).",
            labels=["decision"],
        )
        for decision, n in sorted(self._read().items()):
            family.add_metric([decision], n)
        yield family
