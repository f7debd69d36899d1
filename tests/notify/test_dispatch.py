from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from tocsin.clock import FakeClock
from tocsin.errors import ConfigError
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.dispatch import Receivers, UnknownReceiver
from tocsin.notify.retry import CANCELLED, RATE_LIMITED, DeliveryAttempt, MemoryAttemptSink, Retrier
from tocsin.notify.sinks import MetricsSink, MultiSink

from .fakes import FakeWebhook
from .support import notification, run_on_clock


async def test_receivers_deliver_by_name_and_null_receiver_sends_nothing(
    deps: IntegrationDeps, clock: FakeClock
) -> None:
    sink = MemoryAttemptSink()
    async with FakeWebhook() as hook:
        receivers = Receivers.build(
            [
                {"name": "venue-it", "webhook_configs": [{"url": hook.url + "/a"}]},
                {"name": "blackhole"},
            ],
            deps,
            Retrier(clock, sink),
        )
        assert receivers.names() == ["venue-it", "blackhole"]
        sent = await receivers.notify(notification(receiver="venue-it"), clock.now() + 60)
        nothing = await receivers.notify(notification(receiver="blackhole"), clock.now() + 60)
        with pytest.raises(UnknownReceiver):
            await receivers.notify(notification(receiver="nobody"), clock.now() + 60)
        await receivers.aclose()
    assert [o.ok for o in sent] == [True]
    assert nothing == []
    assert len(hook.requests) == 1


def test_build_reports_all_problems(deps: IntegrationDeps, clock: FakeClock) -> None:
    with pytest.raises(ConfigError) as err:
        Receivers.build(
            [
                {"name": "a", "webhook_configs": [{}]},
                {"name": "a"},
                {"webhook_configs": []},
                {"name": "b", "discord_configs": [{}]},
            ],
            deps,
            Retrier(clock, MemoryAttemptSink()),
            "am.yml",
        )
    messages = [p.message for p in err.value.problems]
    assert len(messages) == 4
    assert "duplicate 'a'" in messages
    assert "is required" in messages
    assert any("discord_configs" in m and "'b'" in m for m in messages)


def attempt(**kw: object) -> DeliveryAttempt:
    base = dict(
        receiver="venue-it", integration="slack[0]", group_key="g", attempt=1, at=0.0,
        duration=0.2, ok=True, retryable=False, error="", status_code=200, final=True,
    )  # fmt: skip
    base.update(kw)
    return DeliveryAttempt(**base)  # type: ignore[arg-type]


async def test_metrics_sink_counts_like_alertmanager() -> None:
    registry = CollectorRegistry()
    sink = MetricsSink(registry)
    for a in [
        attempt(),
        attempt(ok=False, retryable=True, final=False),
        attempt(ok=False, retryable=True, final=True),
        attempt(ok=False, retryable=False, final=True, integration="slack[1]"),
        attempt(ok=False, retryable=True, final=True, error=RATE_LIMITED),
        attempt(ok=False, retryable=True, final=True, error=CANCELLED),
    ]:
        await sink.record(a)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(
            name, {"receiver": "venue-it", "integration": "slack", **labels}
        )

    assert value("tocsin_notification_requests_total") == 4
    assert value("tocsin_notification_requests_failed_total", retryable="true") == 2
    assert value("tocsin_notification_requests_failed_total", retryable="false") == 1
    assert value("tocsin_notifications_total") == 5
    assert value("tocsin_notifications_failed_total", reason="deadline") == 1
    assert value("tocsin_notifications_failed_total", reason="permanent") == 1
    assert value("tocsin_notifications_failed_total", reason="rate_limited") == 1
    assert value("tocsin_notifications_failed_total", reason="cancelled") == 1
    assert value("tocsin_notification_latency_seconds_count") == 4


async def test_metrics_sink_keeps_receivers_and_kinds_apart() -> None:
    registry = CollectorRegistry()
    sink = MetricsSink(registry)
    for a in [
        attempt(),
        attempt(receiver="pager"),
        attempt(receiver="pager", integration="webhook[0]", ok=False, final=False),
        attempt(integration="slack[1]"),
    ]:
        await sink.record(a)

    def value(name: str, receiver: str, integration: str) -> float | None:
        return registry.get_sample_value(name, {"receiver": receiver, "integration": integration})

    assert value("tocsin_notifications_total", "venue-it", "slack") == 2
    assert value("tocsin_notifications_total", "pager", "slack") == 1
    assert value("tocsin_notifications_total", "pager", "webhook") is None
    assert value("tocsin_notification_requests_total", "pager", "webhook") == 1
    assert value("tocsin_notification_latency_seconds_count", "pager", "slack") == 1


async def test_multisink_survives_a_broken_sink(clock: FakeClock) -> None:
    class Broken:
        async def record(self, attempt: DeliveryAttempt) -> None:
            raise RuntimeError("down")

    good = MemoryAttemptSink()
    await MultiSink(Broken(), good).record(attempt())
    assert len(good.attempts) == 1


async def test_failed_webhook_shows_in_metrics(deps: IntegrationDeps, clock: FakeClock) -> None:
    registry = CollectorRegistry()
    async with FakeWebhook() as hook:
        hook.script(500, "down", times=1000)
        receivers = Receivers.build(
            [{"name": "venue-it", "webhook_configs": [{"url": hook.url + "/a"}]}],
            deps,
            Retrier(clock, MetricsSink(registry), random=lambda: 0.5),
        )
        t0 = clock.now()
        [out] = await run_on_clock(clock, receivers.notify(notification(), t0 + 10), step=0.5)
        await receivers.aclose()
    assert not out.ok
    labels = {"receiver": "venue-it", "integration": "webhook", "reason": "deadline"}
    assert registry.get_sample_value("tocsin_notifications_failed_total", labels) == 1
    assert out.attempts == len(hook.requests) == 4  # at 0, 1, 3, 7; next would pass 10
