"""The flush pipeline is built once per route, receiver and configuration, and
the scheduler on the real clock starts a due flush as soon as an alert is put."""

from __future__ import annotations

import asyncio

from tests.alerting.acceptance.harness import Harness, Recorder, Sent
from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.dispatcher import Dispatcher
from tocsin.alerting.matchers import parse_matcher
from tocsin.alerting.model import Alert
from tocsin.alerting.stages import MultiStage, MuteStage
from tocsin.clock import FakeClock, SystemClock
from tocsin.notify.dispatch import Receivers
from tocsin.notify.retry import MemoryAttemptSink, Retrier
from tocsin.notify.types import DeliveryResult, Notification

CFG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers: [{name: team}]
"""

INHIBITING = (
    CFG
    + """
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
"""
)


async def test_flushes_share_a_pipeline_until_the_configuration_changes(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    await h.start()
    await h.push(h.alert("A", ends=10_000), h.alert("B", ends=10_000))
    await h.run_until(31)
    assert h.sent
    d = h.dispatcher
    first, second = d.groups.values()
    pipeline = d._pipeline(first)
    assert d._pipeline(second) is pipeline  # same route and receiver
    d.apply_config(parse_alertmanager_config(CFG.replace("5m", "2m")))
    assert d._pipeline(next(iter(d.groups.values()))) is not pipeline
    await h.stop()


async def test_integrations_swapped_without_a_reload_get_the_next_flush(
    clock: FakeClock,
) -> None:
    h = Harness(CFG, clock)
    await h.start()
    await h.push(h.alert("A", ends=10_000))
    await h.run_until(31)
    assert [s.firing for s in h.sent] == [["A"]]
    elsewhere: list[Sent] = []
    receivers = h.dispatcher.receivers
    assert isinstance(receivers, Receivers)
    receivers.receivers["team"] = {"recorder[0]": Recorder(clock, h.t0, elsewhere)}
    await h.push(h.alert("B", ends=10_000))
    await h.run_until(62)
    assert [s.firing for s in h.sent] == [["A"]]
    assert [s.firing for s in elsewhere] == [["B"]]
    await h.stop()


async def test_a_silence_added_after_the_pipeline_was_built_still_mutes(
    clock: FakeClock,
) -> None:
    h = Harness(CFG, clock)
    await h.start()
    await h.push(h.alert("A", ends=10_000))
    await h.run_until(31)
    h.dispatcher.silences.add([parse_matcher('alertname="B"')], ends_at=clock.now() + 3600)
    await h.push(h.alert("B", ends=10_000), h.alert("C", ends=10_000))
    await h.run_until(62)
    assert [s.firing for s in h.sent] == [["A"], ["C"]]
    await h.stop()


def _mutes_by_inhibition(h: Harness) -> bool:
    d = h.dispatcher
    pipeline = d._pipeline(next(iter(d.groups.values())))
    assert isinstance(pipeline, MultiStage)
    return any(isinstance(s, MuteStage) and s.muter is d.inhibitor for s in pipeline.stages)


async def test_inhibition_is_a_stage_only_when_there_are_rules(clock: FakeClock) -> None:
    plain = Harness(CFG, clock)
    await plain.start()
    await plain.push(plain.alert("A", ends=10_000))
    assert not _mutes_by_inhibition(plain)
    await plain.stop()

    h = Harness(INHIBITING, clock)
    await h.start()
    await h.push(
        h.alert("X", ends=10_000, severity="critical"),
        h.alert("X", ends=10_000, severity="warning", zone="z1"),
    )
    assert _mutes_by_inhibition(h)
    await h.run_until(31)
    [sent] = h.sent
    assert [a.labels["severity"] for a in sent.notification.alerts] == ["critical"]
    await h.stop()


class Signal:
    """An integration that sets an event for every notification."""

    kind = "signal"
    send_resolved = True
    timeout: float | None = None

    def __init__(self) -> None:
        self.got: list[Notification] = []
        self.event = asyncio.Event()

    async def notify(self, n: Notification) -> DeliveryResult:
        self.got.append(n)
        self.event.set()
        return DeliveryResult(200)

    async def aclose(self) -> None:
        return None


async def test_on_the_real_clock_a_put_wakes_the_scheduler_sleeping_on_a_timer() -> None:
    cfg = parse_alertmanager_config(
        """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1h
  routes:
    - matchers: [now="yes"]
      receiver: team
      group_wait: 0s
receivers: [{name: team}]
"""
    )
    signal = Signal()
    clock = SystemClock()
    d = Dispatcher(
        cfg,
        clock=clock,
        receivers=Receivers({"team": {"signal[0]": signal}}, Retrier(clock, MemoryAttemptSink())),
    )
    await d.start()
    try:
        # A group due in an hour: the scheduler now sleeps on its timer.
        await d.put([Alert(labels={"alertname": "Later"})])
        for _ in range(5):
            await asyncio.sleep(0)
        assert d.next_due() is not None
        assert not signal.got
        await d.put([Alert(labels={"alertname": "Now", "now": "yes"})])
        # Bounded only so that a broken wake fails instead of hanging an hour.
        await asyncio.wait_for(signal.event.wait(), 30)
        assert [a.labels["alertname"] for a in signal.got[0].alerts] == ["Now"]
    finally:
        await d.stop()
