"""The notification pipeline: small stages, each `exec(ctx, alerts) -> alerts`.

A flush of an aggregation group runs

    flap hold -> time intervals -> inhibition -> silences -> fan out per integration:
        dedup (against the notification log) -> deliver (the Retrier) -> log

Stages in a `MultiStage` run in order and stop as soon as no alert is left;
a `FanoutStage` runs its branches concurrently. A stage that cannot do its
job raises `StageError`: the flush then counts as failed, and the group's
resolved alerts are kept for the next flush, as in Alertmanager.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tocsin.alerting.dedup import needs_update
from tocsin.alerting.extensions import ReceiverOptions
from tocsin.alerting.flapping import FlapTracker
from tocsin.alerting.mute import Muter
from tocsin.alerting.nflog import LogEntry, NotificationLog
from tocsin.alerting.persistence import NotificationRow
from tocsin.alerting.store import StoredAlert
from tocsin.errors import TocsinError
from tocsin.notify.retry import Retrier
from tocsin.notify.types import Integration, Notification, NotifyAlert

log = logging.getLogger(__name__)


class StageError(TocsinError):
    """A stage failed; the flush is retried at the next group interval."""


@dataclass(slots=True)
class FlushContext:
    """What every stage may need to know about the flush in progress."""

    now: float
    group_key: str
    receiver: str
    group_labels: Mapping[str, str]
    repeat_interval: float
    deadline: float
    options: ReceiverOptions
    external_url: str = ""
    # Set by a stage that must be heard even when dedup sees no change.
    force_reason: str = ""
    # Filled in along the way, read by later stages and by the dispatcher.
    notifications: list[NotificationRow] = field(default_factory=list)
    dedup: dict[str, tuple[frozenset[str], frozenset[str], str]] = field(default_factory=dict)


class Stage(Protocol):
    async def exec(self, ctx: FlushContext, alerts: list[StoredAlert]) -> list[StoredAlert]: ...


class MultiStage:
    """Stages in sequence; stops early when nothing is left to pass on."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)

    async def exec(self, ctx: FlushContext, alerts: list[StoredAlert]) -> list[StoredAlert]:
        for stage in self.stages:
            if not alerts:
                return []
            alerts = await stage.exec(ctx, alerts)
        return alerts


class FanoutStage:
    """Branches run concurrently on the same alerts; any failure fails the stage."""

    def __init__(self, branches: Sequence[Stage]) -> None:
        self.branches = list(branches)

    async def exec(self, ctx: FlushContext, alerts: list[StoredAlert]) -> list[StoredAlert]:
        if len(self.branches) == 1:
            # The usual receiver has one integration: no task to gather it in.
            try:
                await self.branches[0].exec(ctx, alerts)
            except StageError as exc:
                raise StageError(str(exc)) from exc
            except Exception as exc:
                log.error("notification branch crashed", exc_info=exc)
                raise StageError(str(exc)) from exc
            return alerts
        results = await asyncio.gather(
            *(b.exec(ctx, alerts) for b in self.branches), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            for e in errors:
                if not isinstance(e, StageError):
                    log.error("notification branch crashed", exc_info=e)
            raise StageError("; ".join(str(e) for e in errors))
        return alerts


class MuteStage:
    """Drops the alerts a Muter mutes (silences, inhibition, time intervals).

    `keep_resolved`, when given, may let a muted alert through anyway: used
    for resolved notifications of silenced alerts that were notified firing.
    """

    def __init__(
        self,
        muter: Muter,
        keep: Callable[[FlushContext, StoredAlert], bool] | None = None,
    ) -> None:
        self.muter = muter
        self.keep = keep

    async def exec(self, ctx: FlushContext, alerts: list[StoredAlert]) -> list[StoredAlert]:
        out = []
        for a in alerts:
            if self.muter.mutes(a.labels, ctx.now) is None or (
                self.keep is not None and self.keep(ctx, a)
            ):
                out.append(a)
        return out


class FlapHoldStage:
    """Passes a flapping alert once (marked), then holds it back while it flaps."""

    def __init__(self, tracker: FlapTracker, on_change: Callable[[], None]) -> None:
        self.tracker = tracker
        self.on_change = on_change

    async def exec(self, ctx: FlushContext, alerts: list[StoredAlert]) -> list[StoredAlert]:
        out, changed, announce = self.tracker.hold(alerts, ctx.now)
        if changed:
            self.on_change()
        if announce:
            ctx.force_reason = "alert started flapping"
        return out


def split(alerts: Sequence[StoredAlert], now: float) -> tuple[frozenset[str], frozenset[str]]:
    firing = frozenset(a.fingerprint for a in alerts if not a.resolved(now))
    resolved = frozenset(a.fingerprint for a in alerts if a.resolved(now))
    return firing, resolved


class DedupStage:
    """Passes the alerts on only when the notification log says to notify."""

    def __init__(self, nflog: NotificationLog, integration_name: str, send_resolved: bool) -> None:
        self.nflog = nflog
        self.name = integration_name
        self.send_resolved = send_resolved

    async def exec(self, ctx: FlushContext, alerts: list[StoredAlert]) -> list[StoredAlert]:
        firing, resolved = split(alerts, ctx.now)
        entry = self.nflog.get(ctx.group_key, ctx.receiver, self.name)
        decision = needs_update(
            entry,
            firing,
            resolved,
            send_resolved=self.send_resolved,
            repeat_interval=ctx.repeat_interval,
            now=ctx.now,
        )
        reason = decision.reason
        if not decision.notify:
            if not ctx.force_reason:
                return []
            reason = ctx.force_reason
        ctx.dedup[self.name] = (firing, resolved, reason)
        return alerts


def build_notification(ctx: FlushContext, alerts: Sequence[StoredAlert]) -> Notification:
    """Alertmanager's view of a flush: firing alerts have no end time yet."""
    items = []
    for a in alerts:
        resolved = a.resolved(ctx.now)
        items.append(
            NotifyAlert(
                labels=dict(a.labels),
                annotations=dict(a.annotations),
                starts_at=a.starts_at,
                ends_at=a.ends_at if resolved else None,
                generator_url=a.generator_url,
                fingerprint=a.fingerprint,
                status="resolved" if resolved else "firing",
            )
        )
    return Notification(
        receiver=ctx.receiver,
        group_key=ctx.group_key,
        alerts=tuple(items),
        group_labels=dict(ctx.group_labels),
        common_labels=_common([a.labels for a in alerts]),
        common_annotations=_common([a.annotations for a in alerts]),
        external_url=ctx.external_url,
    )


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    out = dict(maps[0])
    for m in maps[1:]:
        out = {k: v for k, v in out.items() if m.get(k) == v}
    return out


class DeliverStage:
    """Hands the notification to the Retrier; a failed delivery fails the stage."""

    def __init__(self, retrier: Retrier, integration_name: str, integration: Integration) -> None:
        self.retrier = retrier
        self.name = integration_name
        self.integration = integration

    async def exec(self, ctx: FlushContext, alerts: list[StoredAlert]) -> list[StoredAlert]:
        firing, resolved, reason = ctx.dedup.get(self.name, (frozenset(), frozenset(), ""))
        n = build_notification(ctx, alerts)
        outcome = await self.retrier.deliver(self.name, self.integration, n, ctx.deadline)
        if outcome.attempts:
            ctx.notifications.append(
                NotificationRow(
                    at=ctx.now,
                    receiver=ctx.receiver,
                    integration=self.name,
                    group_key=ctx.group_key,
                    status=n.status,
                    reason=reason,
                    ok=outcome.ok,
                    attempts=outcome.attempts,
                    error=outcome.error,
                    firing=tuple(sorted(firing)),
                    resolved=tuple(sorted(resolved)),
                )
            )
        if not outcome.ok:
            raise StageError(f"{ctx.receiver}/{self.name}: {outcome.error}")
        return alerts


class SetNotifiesStage:
    """Records in the notification log what was just delivered."""

    def __init__(
        self,
        nflog: NotificationLog,
        integration_name: str,
        on_log: Callable[[LogEntry], None],
    ) -> None:
        self.nflog = nflog
        self.name = integration_name
        self.on_log = on_log

    async def exec(self, ctx: FlushContext, alerts: list[StoredAlert]) -> list[StoredAlert]:
        firing, resolved, _ = ctx.dedup.get(self.name, (frozenset(), frozenset(), ""))
        entry = self.nflog.log(ctx.group_key, ctx.receiver, self.name, firing, resolved, ctx.now)
        self.on_log(entry)
        return alerts
