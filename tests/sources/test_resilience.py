"""Table tests for the pure pieces: token bucket, backoff, breaker, retry rules."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tocsin.clock import FakeClock
from tocsin.errors import SourceError
from tocsin.sources.backoff import Backoff
from tocsin.sources.circuit import CircuitBreaker
from tocsin.sources.concurrency import ConcurrencyLimit
from tocsin.sources.request_timeout import RequestTimeout, within
from tocsin.sources.retry import (
    RateLimited,
    Retrier,
    error_for_exception,
    error_for_status,
    parse_retry_after,
)
from tocsin.sources.token_bucket import BudgetExhausted, TokenBucket
from tocsin.sources.types import CircuitState

from .conftest import InstantClock

# ---------------------------------------------------------------- token bucket

# Each step: (advance seconds, max_wait, expected reserve() result).
BUCKET_CASES = [
    pytest.param(60, [(0, 0, 0.0), (0, 0, 0.0), (0, 0, None)], id="burst-then-refuse"),
    pytest.param(60, [(0, 0, 0.0), (0, 0, 0.0), (0, 5, 1.0), (0, 5, 2.0)], id="queue-waits"),
    pytest.param(60, [(0, 0, 0.0), (0, 0, 0.0), (1, 0, 0.0), (0, 0, None)], id="refill-1/s"),
    pytest.param(
        60,
        [(0, 0, 0.0), (0, 0, 0.0), (100, 0, 0.0), (0, 0, 0.0), (0, 0, None)],
        id="refill-capped-at-burst",
    ),
    pytest.param(6, [(0, 0, 0.0), (0, 0, 0.0), (0, 100, 10.0)], id="slow-rate"),
]


@pytest.mark.parametrize(("per_minute", "steps"), BUCKET_CASES)
def test_token_bucket(
    clock: FakeClock, per_minute: float, steps: list[tuple[float, float, float | None]]
) -> None:
    bucket = TokenBucket(per_minute, clock, burst=2)
    for advance, max_wait, want in steps:
        clock.set(clock.now() + advance)
        got = bucket.reserve(max_wait)
        if want is None:
            assert got is None
        else:
            assert got == pytest.approx(want)


def test_token_bucket_default_burst_is_one_minute(clock: FakeClock) -> None:
    bucket = TokenBucket(120, clock)
    assert bucket.available() == 120
    for _ in range(120):
        assert bucket.reserve(0) == 0.0
    assert bucket.reserve(0) is None
    clock.set(clock.now() + 1.5)
    assert bucket.available() == pytest.approx(3)


async def test_token_bucket_acquire_sleeps_on_clock_or_raises() -> None:
    clock = InstantClock()
    bucket = TokenBucket(60, clock, burst=1)
    await bucket.acquire()
    await bucket.acquire(max_wait=5)
    assert clock.slept == [pytest.approx(1.0)]
    bucket.reserve()  # another caller queues behind us: the next token is 2 s away
    with pytest.raises(BudgetExhausted) as err:
        await bucket.acquire(max_wait=0.5)
    assert err.value.retryable


@pytest.mark.parametrize("bad", [0, -1])
def test_token_bucket_rejects_nonsense(clock: FakeClock, bad: float) -> None:
    with pytest.raises(ValueError, match="per_minute"):
        TokenBucket(bad, clock)


# ---------------------------------------------------------------- backoff


@pytest.mark.parametrize(
    ("backoff", "attempts", "want"),
    [
        (Backoff(1, 300, 2, 0), [0, 1, 2, 3, 8, 9], [1, 2, 4, 8, 256, 300]),
        (Backoff(0.5, 10, 3, 0), [0, 1, 2, 3], [0.5, 1.5, 4.5, 10]),
        (Backoff(1, 300, 2, 0.2, random=lambda: 1.0), [0, 2], [1.2, 4.8]),
        (Backoff(1, 300, 2, 0.2, random=lambda: 0.0), [0, 2], [0.8, 3.2]),
        (Backoff(1, 300, 2, 0.2, random=lambda: 0.5), [3], [8]),
        (Backoff(1, 300, 2, 0.2, random=lambda: 1.0), [20], [300]),  # capped after jitter
        (Backoff(1, 300, 2, 0), [5000], [300]),  # no overflow
        (Backoff(2, 5, 1, 0), [0, 10], [2, 2]),  # multiplier 1: constant
    ],
)
def test_backoff_delays(backoff: Backoff, attempts: list[int], want: list[float]) -> None:
    assert [backoff.delay(a) for a in attempts] == pytest.approx(want)


def test_backoff_jitter_stays_within_band() -> None:
    import random

    rng = random.Random(7)
    b = Backoff(10, 1000, 2, 0.2, random=rng.random)
    delays = [b.delay(0) for _ in range(500)]
    assert min(delays) >= 8
    assert max(delays) <= 12
    assert max(delays) - min(delays) > 3  # it does spread


# ---------------------------------------------------------------- circuit breaker

# Steps: "ok", "fail", "allow" (expect True), "deny" (expect False), "+N" (advance),
# or a CircuitState to assert.
BREAKER_CASES = [
    pytest.param(
        ["fail", "fail", CircuitState.CLOSED, "fail", CircuitState.OPEN, "deny"],
        id="opens-at-threshold",
    ),
    pytest.param(
        ["fail", "fail", "ok", "fail", "fail", CircuitState.CLOSED], id="success-resets-count"
    ),
    pytest.param(
        [
            "fail",
            "fail",
            "fail",
            "+29",
            "deny",
            "+1",
            CircuitState.HALF_OPEN,
            "allow",
            "deny",
            "ok",
            CircuitState.CLOSED,
            "allow",
        ],
        id="half-open-one-trial-closes",
    ),
    pytest.param(
        ["fail", "fail", "fail", "+30", "allow", "fail", CircuitState.OPEN, "deny", "+30", "allow"],
        id="half-open-failure-reopens",
    ),
]


@pytest.mark.parametrize("steps", BREAKER_CASES)
def test_circuit_breaker(clock: FakeClock, steps: list[object]) -> None:
    cb = CircuitBreaker(clock, failure_threshold=3, reset_timeout=30, half_open_max_calls=1)
    for i, step in enumerate(steps):
        if isinstance(step, CircuitState):
            assert cb.state is step, f"step {i}"
        elif step == "ok":
            cb.record_success()
        elif step == "fail":
            cb.record_failure()
        elif step == "allow":
            assert cb.allow(), f"step {i}"
        elif step == "deny":
            assert not cb.allow(), f"step {i}"
        elif isinstance(step, str) and step.startswith("+"):
            clock.set(clock.now() + float(step[1:]))


def test_circuit_half_open_needs_all_trials(clock: FakeClock) -> None:
    cb = CircuitBreaker(clock, failure_threshold=1, reset_timeout=10, half_open_max_calls=2)
    cb.record_failure()
    assert cb.retry_in() == 10
    clock.set(clock.now() + 10)
    assert cb.allow()
    assert cb.allow()
    assert not cb.allow()
    cb.record_success()
    assert cb.state is CircuitState.HALF_OPEN
    cb.record_success()
    assert cb.state is CircuitState.CLOSED


# ---------------------------------------------------------------- concurrency


async def test_concurrency_limit_caps_in_flight() -> None:
    limit = ConcurrencyLimit(3)
    gate = asyncio.Event()

    async def work() -> None:
        async with limit:
            await gate.wait()

    tasks = [asyncio.create_task(work()) for _ in range(10)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert limit.in_flight == 3
    gate.set()
    await asyncio.gather(*tasks)
    assert limit.peak == 3
    assert limit.in_flight == 0


async def test_within_turns_timeout_into_retryable_error() -> None:
    never = asyncio.get_running_loop().create_future()
    with pytest.raises(RequestTimeout) as err:
        await within(0.01, never, "thing")
    assert err.value.retryable
    assert "thing: timed out after 0.01s" in str(err.value)
    assert await within(1, asyncio.sleep(0, result=5), "x") == 5


# ---------------------------------------------------------------- retryability


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (200, None),
        (204, None),
        (304, None),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
    ],
)
def test_retryability_of_status(status: int, retryable: bool | None) -> None:
    err = error_for_status(status, "p")
    if retryable is None:
        assert err is None
    else:
        assert err is not None
        assert err.retryable is retryable
        assert f"HTTP {status}" in str(err)


@pytest.mark.parametrize(
    ("exc", "retryable", "text"),
    [
        (TimeoutError(), True, "timed out"),
        (aiohttp.ClientConnectionError("refused"), True, "connection failed"),
        (ConnectionRefusedError(111, "refused"), True, "connection failed"),
        (aiohttp.ClientPayloadError("cut"), True, "truncated"),
        (ValueError("Expecting value"), True, "malformed JSON"),
        (aiohttp.InvalidURL("nope"), False, "invalid URL"),
        (SourceError("mine", retryable=False), False, "mine"),
        (KeyError("bug"), False, "KeyError"),
    ],
)
def test_retryability_of_exceptions(exc: BaseException, retryable: bool, text: str) -> None:
    err = error_for_exception(exc, "p")
    assert err.retryable is retryable
    assert text in str(err)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("5", 5.0),
        (" 120 ", 120.0),
        ("Tue, 14 Nov 2023 22:13:40 GMT", 20.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("Tue, 14 Nov 2023 22:13:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, want: float | None) -> None:
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert parse_retry_after(value, now) == want


async def test_retrier_gives_up_on_permanent_and_after_retries() -> None:
    clock = InstantClock()
    retrier = Retrier(clock, Backoff(1, 100, 2, 0), retries=3, max_wait=50)
    calls: list[int] = []

    async def permanent() -> None:
        calls.append(1)
        raise error_for_status(404, "p") or AssertionError()

    with pytest.raises(SourceError, match="HTTP 404"):
        await retrier.run("p", permanent)
    assert (len(calls), clock.slept) == (1, [])

    async def flaky() -> None:
        calls.append(1)
        raise aiohttp.ClientConnectionError("reset")

    calls.clear()
    with pytest.raises(SourceError, match="connection failed"):
        await retrier.run("p", flaky)
    assert (len(calls), clock.slept) == (4, [1, 2, 4])
    assert retrier.attempts == 5


def test_retrier_prefers_retry_after_and_respects_max_wait(clock: FakeClock) -> None:
    retrier = Retrier(clock, Backoff(1, 100, 2, 0), retries=3, max_wait=50)
    assert retrier.delay_for(RateLimited("p", 9), 0) == 9
    assert retrier.delay_for(RateLimited("p", None), 1) == 2
    assert retrier.delay_for(RateLimited("p", 51), 0) is None
    assert retrier.delay_for(SourceError("x"), 3) is None
