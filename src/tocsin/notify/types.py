"""Plain data the notify package works on, and the Integration protocol.

These types are the adapter points: the alerting pipeline turns an aggregation
group into a `Notification`, the template engine is wrapped as a `Render`, and
state that must outlive a process (Slack thread ids) goes through a
`KeyValueStore`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from tocsin.errors import DeliveryError

Status = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class NotifyAlert:
    """One alert of a group, as a receiver sees it. Times are Unix seconds."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float | None = None
    generator_url: str = ""
    fingerprint: str = ""
    status: Status = "firing"


@dataclass(frozen=True, slots=True)
class Notification:
    """What one receiver is asked to deliver for one aggregation group.

    `truncated` counts alerts the pipeline already left out before this
    point; integrations that cap the number of alerts add their own cut.
    `acknowledged_by` is set when tocsin's acknowledgement feature asks the
    receivers that know the concept (PagerDuty, Opsgenie, Slack threads) to
    mark the incident acknowledged instead of re-triggering it.
    """

    receiver: str
    group_key: str
    alerts: tuple[NotifyAlert, ...]
    group_labels: Mapping[str, str] = field(default_factory=dict)
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""
    truncated: int = 0
    acknowledged_by: str | None = None
    # The matched route's `labels:` (raw templates) for the `routeLabels`
    # template function.
    route_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        """Firing while any alert fires, as Alertmanager decides it."""
        return "firing" if any(a.status == "firing" for a in self.alerts) else "resolved"

    @property
    def firing(self) -> tuple[NotifyAlert, ...]:
        return tuple(a for a in self.alerts if a.status == "firing")

    @property
    def resolved(self) -> tuple[NotifyAlert, ...]:
        return tuple(a for a in self.alerts if a.status == "resolved")

    def without_resolved(self) -> Notification:
        return replace(self, alerts=self.firing)


def group_hash(group_key: str) -> str:
    """A stable, opaque id for a group: PagerDuty dedup_key, Opsgenie alias.

    The same group key always gives the same id, across restarts and
    processes, so trigger and resolve land on the same incident.
    """
    return hashlib.sha256(group_key.encode("utf-8")).hexdigest()


# A template renderer bound to nothing: the integration passes the template
# text and the notification it is rendering for. The lead adapts the Go
# template engine to this shape (build Alertmanager's template data from the
# Notification, then execute the text).
Render = Callable[[str, Notification], str]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A successful delivery: what the service answered."""

    status_code: int | None = None
    detail: str = ""


class DeliveryFailure(DeliveryError):
    """A failed delivery with what the retrier needs to know about it.

    `retry_after` is the service's own hint (HTTP Retry-After) in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.status_code = status_code
        self.retry_after = retry_after


class Integration(Protocol):
    """One configured integration of a receiver (one entry of `slack_configs`).

    `notify` returns a DeliveryResult or raises DeliveryError; it never
    retries by itself: retry policy lives in `tocsin.notify.retry`.
    """

    kind: str
    send_resolved: bool
    timeout: float | None

    async def notify(self, n: Notification) -> DeliveryResult: ...

    async def aclose(self) -> None: ...


class KeyValueStore(Protocol):
    """Small persistent state for integrations (Slack thread timestamps)."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...


class MemoryKeyValueStore:
    """A KeyValueStore in a dict, expiring entries on an injected clock."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._data: dict[str, tuple[str, float | None]] = {}

    async def get(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._now() >= expires:
            del self._data[key]
            return None
        return value

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._data[key] = (value, None if ttl is None else self._now() + ttl)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)
