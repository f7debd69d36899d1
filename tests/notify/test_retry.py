from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import pytest

from tocsin.clock import FakeClock
from tocsin.errors import DeliveryError
from tocsin.notify.retry import (
    BackoffPolicy,
    DeliveryAttempt,
    MemoryAttemptSink,
    RateLimit,
    RateLimiter,
    Retrier,
    TokenBucket,
)
from tocsin.notify.types import DeliveryFailure, DeliveryResult, Notification

from .support import alert, notification


@dataclass
class Scripted:
    """An integration whose answers are scripted; each answer may take clock time."""

    clock: FakeClock
    answers: deque[Exception | float | None] = field(default_factory=deque)
    send_resolved: bool = True
    timeout: float | None = None
    kind: str = "scripted"
    calls: list[tuple[float, Notification]] = field(default_factory=list)

    async def notify(self, n: Notification) -> DeliveryResult:
        self.calls.append((self.clock.now(), n))
        answer = self.answers.popleft() if self.answers else None
        if isinstance(answer, float):
            await self.clock.sleep(answer)
            return DeliveryResult(status_code=200)
        if isinstance(answer, Exception):
            raise answer
        return DeliveryResult(status_code=200)

    async def aclose(self) -> None:
        return None


def retryable(code: int = 503) -> DeliveryFailure:
    return DeliveryFailure(f"HTTP {code}", retryable=True, status_code=code)


async def drive(clock: FakeClock, coro, until: float = 10_000.0):
    """Run a delivery while moving the virtual clock in small steps."""
    task = asyncio.ensure_future(coro)
    for _ in range(20):
        await asyncio.sleep(0)
    start = clock.now()
    while not task.done() and clock.now() - start < until:
        await clock.advance(0.25)
    return await task


@pytest.mark.parametrize(
    ("failures", "rnd", "want"),
    [
        (1, 0.5, 1.0),
        (2, 0.5, 2.0),
        (3, 0.5, 4.0),
        (10, 0.5, 60.0),
        (1, 0.0, 0.5),
        (1, 0.999999, 1.499999),
        (10, 0.0, 30.0),
    ],
)
def test_backoff_grows_caps_and_jitters(failures: int, rnd: float, want: float) -> None:
    assert BackoffPolicy().delay(failures, rnd) == pytest.approx(want)


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": 0}, {"multiplier": 0.5}, {"max_delay": 0.1}, {"jitter": 1.5}],
)
def test_backoff_rejects_nonsense(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="backoff"):
        BackoffPolicy(**kwargs)


async def test_success_first_time_records_one_final_attempt(clock: FakeClock) -> None:
    sink = MemoryAttemptSink()
    integ = Scripted(clock)
    out = await Retrier(clock, sink).deliver("scripted[0]", integ, notification(), clock.now() + 60)
    assert out.ok
    assert out.attempts == 1
    [a] = sink.attempts
    assert a == DeliveryAttempt(
        receiver="venue-it",
        integration="scripted[0]",
        group_key='{}:{venue="v1"}',
        attempt=1,
        at=clock.now(),
        duration=0.0,
        ok=True,
        retryable=False,
        error="",
        status_code=200,
        final=True,
    )


async def test_retries_with_backoff_until_success(clock: FakeClock) -> None:
    sink = MemoryAttemptSink()
    integ = Scripted(clock, deque([retryable(), retryable(502), None]))
    retrier = Retrier(clock, sink, random=lambda: 0.5)
    t0 = clock.now()
    out = await drive(clock, retrier.deliver("s[0]", integ, notification(), t0 + 300))
    assert out.ok
    assert out.attempts == 3
    # Delays 1s then 2s with the jitter at its midpoint.
    assert [round(t - t0, 2) for t, _ in integ.calls] == [0.0, 1.0, 3.0]
    assert [(a.ok, a.status_code, a.final) for a in sink.attempts] == [
        (False, 503, False),
        (False, 502, False),
        (True, 200, True),
    ]


async def test_permanent_failure_stops_at_once(clock: FakeClock) -> None:
    sink = MemoryAttemptSink()
    integ = Scripted(clock, deque([DeliveryFailure("HTTP 400", retryable=False, status_code=400)]))
    out = await Retrier(clock, sink).deliver("s[0]", integ, notification(), clock.now() + 300)
    assert not out.ok
    assert out.attempts == 1
    assert out.error == "HTTP 400"
    [a] = sink.attempts
    assert (a.ok, a.retryable, a.final, a.status_code) == (False, False, True, 400)


async def test_gives_up_at_deadline_and_records_it(clock: FakeClock) -> None:
    sink = MemoryAttemptSink()
    integ = Scripted(clock, deque([retryable()] * 100))
    retrier = Retrier(clock, sink, random=lambda: 0.5)
    t0 = clock.now()
    out = await drive(clock, retrier.deliver("s[0]", integ, notification(), t0 + 20))
    assert not out.ok
    assert "gave up at deadline" in out.error
    # 0, 1, 3, 7, 15: the next wait (16s) would end after the 20s deadline.
    assert [round(t - t0) for t, _ in integ.calls] == [0, 1, 3, 7, 15]
    assert [a.final for a in sink.attempts] == [False] * 4 + [True]
    assert all(a.retryable and not a.ok for a in sink.attempts)


async def test_retry_after_hint_lengthens_the_wait(clock: FakeClock) -> None:
    integ = Scripted(clock, deque([DeliveryFailure("429", retryable=True, retry_after=30.0)]))
    retrier = Retrier(clock, MemoryAttemptSink(), random=lambda: 0.5)
    t0 = clock.now()
    out = await drive(clock, retrier.deliver("s[0]", integ, notification(), t0 + 300))
    assert out.ok
    assert [round(t - t0) for t, _ in integ.calls] == [0, 30]


async def test_attempt_timeout_runs_on_the_clock(clock: FakeClock) -> None:
    sink = MemoryAttemptSink()
    integ = Scripted(clock, deque([100.0, None]), timeout=5.0)
    retrier = Retrier(clock, sink, random=lambda: 0.5)
    t0 = clock.now()
    out = await drive(clock, retrier.deliver("s[0]", integ, notification(), t0 + 300))
    assert out.ok
    assert out.attempts == 2
    first = sink.attempts[0]
    assert "timed out after 5s" in first.error
    assert first.retryable
    assert first.duration == pytest.approx(5.0)
    assert integ.calls[1][0] - t0 == pytest.approx(6.0)


async def test_crashing_integration_is_recorded_not_raised(clock: FakeClock) -> None:
    sink = MemoryAttemptSink()
    integ = Scripted(clock, deque([KeyError("oops")]))
    out = await Retrier(clock, sink).deliver("s[0]", integ, notification(), clock.now() + 60)
    assert not out.ok
    assert sink.attempts[0].error.startswith("internal error: KeyError")
    assert sink.attempts[0].final


@pytest.mark.parametrize(
    ("send_resolved", "alerts", "sent", "skipped"),
    [
        (False, ("firing", "resolved"), 1, False),
        (False, ("resolved",), 0, True),
        (True, ("firing", "resolved"), 2, False),
        (True, ("resolved",), 1, False),
    ],
)
async def test_send_resolved_filters_resolved_alerts(
    clock: FakeClock, send_resolved: bool, alerts: tuple[str, ...], sent: int, skipped: bool
) -> None:
    sink = MemoryAttemptSink()
    integ = Scripted(clock, send_resolved=send_resolved)
    n = notification(*(alert(zone=f"z{i}", status=s) for i, s in enumerate(alerts)))
    out = await Retrier(clock, sink).deliver("s[0]", integ, n, clock.now() + 60)
    assert out.ok
    assert bool(out.skipped) is skipped
    assert len(sink.attempts) == (0 if skipped else 1)
    assert [len(c[1].alerts) for c in integ.calls] == ([] if skipped else [sent])


def test_token_bucket_refills_on_the_clock(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(per_second=0.5, burst=2), clock)
    assert bucket.try_take()
    assert bucket.try_take()
    assert not bucket.try_take()
    assert bucket.wait_time() == pytest.approx(2.0)
    clock.set(clock.now() + 1.0)
    assert bucket.wait_time() == pytest.approx(1.0)
    clock.set(clock.now() + 1.0)
    assert bucket.try_take()
    clock.set(clock.now() + 100.0)
    assert bucket.try_take()
    assert bucket.try_take()
    assert not bucket.try_take()


async def test_rate_limit_spaces_sends_per_receiver(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, limits={"venue-it": RateLimit(per_second=1.0, burst=1)})
    retrier = Retrier(clock, MemoryAttemptSink(), limiter=limiter)
    limited = Scripted(clock)
    free = Scripted(clock)
    t0 = clock.now()
    jobs = [
        retrier.deliver("s[0]", limited, notification(group_key=f"g{i}"), t0 + 60) for i in range(3)
    ] + [
        retrier.deliver("s[0]", free, notification(receiver="other", group_key=f"g{i}"), t0 + 60)
        for i in range(3)
    ]
    outs = await drive(clock, asyncio.gather(*jobs))
    assert all(o.ok for o in outs)
    assert [round(t - t0, 2) for t, _ in limited.calls] == [0.0, 1.0, 2.0]
    assert [t - t0 for t, _ in free.calls] == [0.0, 0.0, 0.0]


async def test_rate_limit_past_deadline_is_a_recorded_failure(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, default=RateLimit(per_second=0.1, burst=1))
    sink = MemoryAttemptSink()
    retrier = Retrier(clock, sink, limiter=limiter)
    integ = Scripted(clock)
    t0 = clock.now()
    outs = await drive(
        clock,
        asyncio.gather(
            retrier.deliver("s[0]", integ, notification(group_key="a"), t0 + 5),
            retrier.deliver("s[0]", integ, notification(group_key="b"), t0 + 5),
        ),
    )
    assert sorted(o.ok for o in outs) == [False, True]
    failed = next(o for o in outs if not o.ok)
    assert "rate limit" in failed.error
    assert len(integ.calls) == 1
    assert [a.ok for a in sink.attempts if a.final] == [True, False] or [
        a.ok for a in sink.attempts if a.final
    ] == [False, True]
    assert next(a for a in sink.attempts if not a.ok).error == failed.error


async def test_fanout_delivers_each_integration_independently(clock: FakeClock) -> None:
    sink = MemoryAttemptSink()
    good = Scripted(clock)
    bad = Scripted(clock, deque([DeliveryError("no", retryable=False)]))
    outs = await Retrier(clock, sink).deliver_receiver(
        {"webhook[0]": good, "slack[0]": bad}, notification(), clock.now() + 60
    )
    assert [(o.integration, o.ok) for o in outs] == [("webhook[0]", True), ("slack[0]", False)]
    assert {a.integration for a in sink.attempts} == {"webhook[0]", "slack[0]"}


async def test_failing_sink_does_not_break_delivery(clock: FakeClock) -> None:
    class Broken:
        async def record(self, attempt: DeliveryAttempt) -> None:
            raise RuntimeError("db down")

    out = await Retrier(clock, Broken()).deliver("s[0]", Scripted(clock), notification(), 1e12)
    assert out.ok


async def test_system_clock_timeout_path() -> None:
    """With the real clock the timeout uses asyncio.timeout; same outcome."""
    from tocsin.clock import SystemClock

    class Hangs:
        kind = "hangs"
        send_resolved = True
        timeout = 0.05  # real seconds, kept tiny

        async def notify(self, n: Notification) -> DeliveryResult:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def aclose(self) -> None:
            return None

    sink = MemoryAttemptSink()
    clock = SystemClock()
    out = await Retrier(clock, sink).deliver("h[0]", Hangs(), notification(), clock.now() + 0.5)
    assert not out.ok
    assert sink.attempts[0].error == "timed out after 0.05s"
    assert sink.attempts[0].retryable


async def test_in_flight_limit_is_per_integration_and_queue_time_is_not_timeout(
    clock: FakeClock,
) -> None:
    slow = Scripted(clock, deque([10.0] * 4), timeout=15.0)
    other = Scripted(clock)
    retrier = Retrier(clock, MemoryAttemptSink(), max_in_flight=2)
    t0 = clock.now()
    outs = await drive(
        clock,
        asyncio.gather(
            *(retrier.deliver("slow[0]", slow, notification(group_key=f"g{i}"), t0 + 300)
              for i in range(4)),
            retrier.deliver("other[0]", other, notification(), t0 + 300),
        ),
    )  # fmt: skip
    assert all(o.ok for o in outs)
    assert all(o.attempts == 1 for o in outs)
    assert [round(t - t0) for t, _ in slow.calls] == [0, 0, 10, 10]
    assert [t - t0 for t, _ in other.calls] == [0.0]


async def test_cancelled_delivery_leaves_a_final_record(clock: FakeClock) -> None:
    sink = MemoryAttemptSink()
    integ = Scripted(clock, deque([retryable()] * 10))
    retrier = Retrier(clock, sink, random=lambda: 0.5)
    task = asyncio.ensure_future(retrier.deliver("s[0]", integ, notification(), clock.now() + 300))
    for _ in range(20):
        await asyncio.sleep(0)
    await clock.advance(1.5)  # second attempt failed, now sleeping before the third
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [(a.attempt, a.ok, a.final) for a in sink.attempts] == [
        (1, False, False),
        (2, False, False),
        (2, False, True),
    ]
    assert sink.attempts[-1].error == "cancelled before the delivery finished"


async def test_reconfigured_limits_keep_unchanged_buckets(clock: FakeClock) -> None:
    one = RateLimit(per_second=0.1, burst=1)
    limiter = RateLimiter(clock, limits={"a": one, "b": one})
    assert await limiter.acquire("a", clock.now())
    assert await limiter.acquire("b", clock.now())
    limiter.configure({"a": one, "b": RateLimit(per_second=0.1, burst=2)})
    # `a` kept its used-up bucket; `b` got a new one under its new limit.
    assert not await limiter.acquire("a", clock.now())
    assert await limiter.acquire("b", clock.now())
    assert limiter.limit("b") == RateLimit(per_second=0.1, burst=2)
    limiter.configure({})
    assert limiter.limit("a") is None
    assert await limiter.acquire("a", clock.now())
