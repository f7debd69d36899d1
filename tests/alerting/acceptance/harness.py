"""Drive a Dispatcher on a virtual clock with recording receivers.

`Recorder` is an Integration that keeps every notification with the virtual
time it arrived; `Harness` builds a Dispatcher from Alertmanager config text
and moves time from due time to due time, so every flush happens at exactly
the time the dispatcher scheduled it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.dispatcher import Dispatcher
from tocsin.alerting.extensions import AlertingExtensions
from tocsin.alerting.model import Alert
from tocsin.clock import FakeClock
from tocsin.notify.dispatch import Receivers
from tocsin.notify.retry import BackoffPolicy, MemoryAttemptSink, Retrier
from tocsin.notify.types import DeliveryFailure, DeliveryResult, Integration, Notification
from tocsin.storage import Store


@dataclass
class Sent:
    at: float  # seconds since the harness started
    receiver: str
    notification: Notification

    @property
    def firing(self) -> list[str]:
        return sorted(a.labels.get("alertname", "") for a in self.notification.firing)

    @property
    def resolved(self) -> list[str]:
        return sorted(a.labels.get("alertname", "") for a in self.notification.resolved)


@dataclass
class Recorder:
    """An integration that records; `failures` makes the next N sends fail."""

    clock: FakeClock
    t0: float
    sent: list[Sent]
    send_resolved: bool = True
    kind: str = "recorder"
    timeout: float | None = None
    failures: int = 0
    detail: str = ""

    async def notify(self, n: Notification) -> DeliveryResult:
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryFailure("scripted failure", retryable=True, status_code=503)
        self.sent.append(Sent(self.clock.now() - self.t0, n.receiver, n))
        return DeliveryResult(200, self.detail)

    async def aclose(self) -> None:
        return None


@dataclass
class Harness:
    config_text: str
    clock: FakeClock
    db_path: Path | None = None
    extensions: AlertingExtensions | None = None
    send_resolved: dict[str, bool] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    attempts: MemoryAttemptSink = field(default_factory=MemoryAttemptSink)

    def __post_init__(self) -> None:
        self.t0 = self.clock.now()
        self.config = parse_alertmanager_config(self.config_text)
        self.recorders: dict[str, Recorder] = {}
        self.store = self._store()
        self.dispatcher = self._dispatcher()

    def _store(self) -> Store:
        url = f"sqlite:///{self.db_path}" if self.db_path else "sqlite://"
        return Store(url, clock=self.clock)

    def _dispatcher(self) -> Dispatcher:
        integrations: dict[str, dict[str, Integration]] = {}
        for r in self.config.receivers:
            rec = self.recorders.get(r.name) or Recorder(
                self.clock, self.t0, self.sent, self.send_resolved.get(r.name, True)
            )
            self.recorders[r.name] = rec
            integrations[r.name] = {"recorder[0]": rec}
        retrier = Retrier(
            self.clock,
            self.attempts,
            backoff=BackoffPolicy(initial=1.0, max_delay=10.0, jitter=0.0),
            random=lambda: 0.5,
        )
        return Dispatcher(
            self.config,
            self.store,
            self.clock,
            receivers=Receivers(integrations, retrier),
            extensions=self.extensions,
        )

    @property
    def now(self) -> float:
        return self.clock.now() - self.t0

    async def start(self) -> None:
        await self.dispatcher.start()
        await self.dispatcher.settle()

    async def stop(self) -> None:
        await self.dispatcher.stop()

    async def restart(self, downtime: float = 0.0) -> None:
        """A new process on the same store (needs `db_path`), after `downtime`
        seconds in which nothing ran."""
        await self.dispatcher.stop()
        self.store.close()
        if downtime:
            self.clock.set(self.clock.now() + downtime)
        self.store = self._store()
        self.dispatcher = self._dispatcher()
        await self.start()

    async def push(self, *alerts: Alert) -> None:
        await self.dispatcher.put(list(alerts))
        await self.dispatcher.settle()

    async def run_until(self, t: float) -> None:
        """Advance to `t` (seconds since start), stopping at every due time."""
        target = self.t0 + t
        while True:
            await self.dispatcher.settle()
            now = self.clock.now()
            if now >= target:
                return
            due = self.dispatcher.next_due()
            step = target if due is None or due <= now else min(due, target)
            await self.clock.advance(step - now)

    def alert(
        self,
        name: str,
        *,
        starts: float | None = None,
        ends: float | None = None,
        **labels: str,
    ) -> Alert:
        """An alert named `name`; times are seconds since start."""
        return Alert(
            labels={"alertname": name, **labels},
            starts_at=None if starts is None else self.t0 + starts,
            ends_at=None if ends is None else self.t0 + ends,
        )

    def by(self, receiver: str) -> list[Sent]:
        return [s for s in self.sent if s.receiver == receiver]
