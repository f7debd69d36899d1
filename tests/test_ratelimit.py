"""The shared token bucket (tocsin.ratelimit), driven by a FakeClock."""

from __future__ import annotations

import asyncio

import pytest

from tocsin.clock import FakeClock
from tocsin.ratelimit import TokenBucket

# Each step: (seconds to move the clock, operation, expected result).
STEPS_CASES = [
    pytest.param(
        1.0,
        2,
        [(0, "take", True), (0, "take", True), (0, "take", False), (0, "wait", 1.0)],
        id="burst-then-empty",
    ),
    pytest.param(
        0.5,
        2,
        [(0, "take", True), (0, "take", True), (1, "wait", 1.0), (3, "take", True)],
        id="refill-at-rate",
    ),
    pytest.param(
        1.0,
        3,
        [(0, "take", True), (100, "level", 3.0), (0, "take", True), (0, "level", 2.0)],
        id="capped-at-burst",
    ),
    pytest.param(
        1.0,
        1,
        [(0, "reserve", 0.0), (0, "reserve", 1.0), (0, "reserve", 2.0), (0, "level", -2.0)],
        id="reservations-queue",
    ),
    pytest.param(
        1.0, 1, [(0, "take", True), (0, "take", False), (0, "level", 0.0)], id="take-never-owes"
    ),
    pytest.param(
        1.0,
        1,
        [(0, "take", True), (-50, "level", 0.0), (50.5, "level", 0.5)],
        id="clock-set-back-refills-nothing",
    ),
]


@pytest.mark.parametrize(("rate", "burst", "steps"), STEPS_CASES)
def test_bucket_steps(
    clock: FakeClock, rate: float, burst: float, steps: list[tuple[float, str, object]]
) -> None:
    bucket = TokenBucket(rate, clock, burst=burst)
    ops = {
        "take": bucket.try_take,
        "wait": bucket.wait_time,
        "reserve": bucket.reserve,
        "level": bucket.available,
    }
    for i, (advance, op, want) in enumerate(steps):
        clock.set(clock.now() + advance)
        got = ops[op]()
        assert got == pytest.approx(want), f"step {i}: {op}"


def test_reserve_refuses_a_wait_over_max_and_takes_nothing(clock: FakeClock) -> None:
    bucket = TokenBucket(0.1, clock)
    assert bucket.reserve(0) == 0.0
    assert bucket.reserve(max_wait=5) is None
    assert bucket.available() == pytest.approx(0.0)
    assert bucket.reserve(max_wait=10) == pytest.approx(10.0)


async def test_acquire_sleeps_on_the_clock(clock: FakeClock) -> None:
    bucket = TokenBucket(1.0, clock)
    t0 = clock.now()
    assert await bucket.acquire()
    task = asyncio.create_task(bucket.acquire(max_wait=5))
    await asyncio.sleep(0)
    assert not task.done()
    await clock.advance(1.0)
    assert await task
    assert clock.now() == t0 + 1.0
    assert not await bucket.acquire(max_wait=0.5)  # next token 1 s away


async def test_cancelled_acquire_hands_its_token_back(clock: FakeClock) -> None:
    bucket = TokenBucket(1.0, clock)
    bucket.reserve()
    task = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    assert bucket.available() == pytest.approx(-1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bucket.available() == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("rate", "burst", "message"),
    [(0, 1, "rate"), (-1, 1, "rate"), (1, 0.5, "burst")],
)
def test_nonsense_is_refused(clock: FakeClock, rate: float, burst: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenBucket(rate, clock, burst=burst)
