"""Where delivery attempts go: several places at once, and /metrics.

The names follow Alertmanager's notification metrics, prefixed `tocsin_`
and with a `receiver` label, so existing dashboards translate directly.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram

from tocsin.notify.retry import CANCELLED, RATE_LIMITED, AttemptSink, DeliveryAttempt

log = logging.getLogger(__name__)


def failure_reason(attempt: DeliveryAttempt) -> str:
    """Why a final attempt failed, as a small fixed set of label values."""
    if attempt.error == CANCELLED:
        return "cancelled"
    if attempt.error == RATE_LIMITED:
        return "rate_limited"
    return "deadline" if attempt.retryable else "permanent"


class _Children(NamedTuple):
    labels: tuple[str, str]
    requests: Counter
    latency: Histogram
    notifications: Counter


class MultiSink:
    """Record each attempt in every sink; one failing sink does not stop the others."""

    def __init__(self, *sinks: AttemptSink) -> None:
        self.sinks = sinks

    async def record(self, attempt: DeliveryAttempt) -> None:
        for sink in self.sinks:
            try:
                await sink.record(attempt)
            except Exception:
                log.exception("attempt sink %r failed", sink)


class MetricsSink:
    """Counts attempts and final outcomes into a prometheus_client registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["receiver", "integration"]
        self.notifications = Counter(
            "tocsin_notifications_total",
            "Notifications whose delivery ended, per receiver and integration.",
            labels,
            registry=registry,
        )
        self.failed = Counter(
            "tocsin_notifications_failed_total",
            "Notifications given up on, by reason: permanent, deadline, rate_limited, cancelled.",
            [*labels, "reason"],
            registry=registry,
        )
        self.requests = Counter(
            "tocsin_notification_requests_total",
            "Delivery attempts, including retries.",
            labels,
            registry=registry,
        )
        self.requests_failed = Counter(
            "tocsin_notification_requests_failed_total",
            "Delivery attempts that failed.",
            [*labels, "retryable"],
            registry=registry,
        )
        self.latency = Histogram(
            "tocsin_notification_latency_seconds",
            "Duration of one delivery attempt.",
            labels,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self._cache: dict[tuple[str, str], _Children] = {}

    def _children(self, receiver: str, integration: str) -> _Children:
        """The per-label series every attempt touches, looked up once: label
        lookups cost more than the increments themselves."""
        found = self._cache.get((receiver, integration))
        if found is None:
            # `integration` is e.g. "slack[0]"; the kind keeps label cardinality low.
            labels = (receiver, integration.split("[", 1)[0])
            found = self._cache[(receiver, integration)] = _Children(
                labels,
                self.requests.labels(*labels),
                self.latency.labels(*labels),
                self.notifications.labels(*labels),
            )
        return found

    async def record(self, attempt: DeliveryAttempt) -> None:
        series = self._children(attempt.receiver, attempt.integration)
        # Rate-limit and cancellation records close a delivery; they sent nothing.
        if attempt.error not in (CANCELLED, RATE_LIMITED):
            series.requests.inc()
            series.latency.observe(attempt.duration)
            if not attempt.ok:
                self.requests_failed.labels(*series.labels, str(attempt.retryable).lower()).inc()
        if attempt.final:
            series.notifications.inc()
            if not attempt.ok:
                self.failed.labels(*series.labels, failure_reason(attempt)).inc()
