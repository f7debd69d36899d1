"""Where delivery attempts go: several places at once, and /metrics.

The names follow Alertmanager's notification metrics, prefixed `tocsin_`
and with a `receiver` label, so existing dashboards translate directly.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Histogram

from tocsin.notify.retry import CANCELLED, RATE_LIMITED, AttemptSink, DeliveryAttempt

_M = TypeVar("_M", Counter, Histogram)

log = logging.getLogger(__name__)


def failure_reason(attempt: DeliveryAttempt) -> str:
    """Why a final attempt failed, as a small fixed set of label values."""
    if attempt.error == CANCELLED:
        return "cancelled"
    if attempt.error == RATE_LIMITED:
        return "rate_limited"
    return "deadline" if attempt.retryable else "permanent"


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
        self._series_by: dict[tuple[int, str, str], Any] = {}

    def _series(self, metric: _M, attempt: DeliveryAttempt) -> _M:
        """The metric's series for the attempt's receiver and integration kind,
        looked up once: the label lookup costs more than the increment. Made
        on first use, so a series appears only once it has counted something."""
        key = (id(metric), attempt.receiver, attempt.integration)
        found = self._series_by.get(key)
        if found is None:
            found = self._series_by[key] = metric.labels(*_labels(attempt))
        return cast(_M, found)

    async def record(self, attempt: DeliveryAttempt) -> None:
        # Rate-limit and cancellation records close a delivery; they sent nothing.
        if attempt.error not in (CANCELLED, RATE_LIMITED):
            self._series(self.requests, attempt).inc()
            self._series(self.latency, attempt).observe(attempt.duration)
            if not attempt.ok:
                retryable = str(attempt.retryable).lower()
                self.requests_failed.labels(*_labels(attempt), retryable).inc()
        if attempt.final:
            self._series(self.notifications, attempt).inc()
            if not attempt.ok:
                self.failed.labels(*_labels(attempt), failure_reason(attempt)).inc()


def _labels(attempt: DeliveryAttempt) -> tuple[str, str]:
    # `integration` is e.g. "slack[0]"; the kind keeps label cardinality low.
    return attempt.receiver, attempt.integration.split("[", 1)[0]
