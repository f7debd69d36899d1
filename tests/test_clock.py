from __future__ import annotations

import asyncio

from tocsin.clock import FakeClock, SystemClock


async def test_fake_clock_wakes_sleepers_in_deadline_order(clock: FakeClock) -> None:
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    start = clock.now()
    tasks = [asyncio.create_task(sleeper("late", 10)), asyncio.create_task(sleeper("early", 3))]
    await asyncio.sleep(0)
    await clock.advance(5)
    assert woke == [("early", start + 3)]
    await clock.advance(5)
    assert woke == [("early", start + 3), ("late", start + 10)]
    await asyncio.gather(*tasks)


async def test_fake_clock_wait_for_ends_at_the_event_or_the_deadline(clock: FakeClock) -> None:
    start = clock.now()
    event = asyncio.Event()
    waiter = asyncio.create_task(clock.wait_for(event, 60))
    await clock.advance(59)
    assert not waiter.done()
    event.set()
    await asyncio.wait_for(waiter, 5)  # bounded: fails rather than hangs
    assert clock.now() - start == 59

    waiter = asyncio.create_task(clock.wait_for(asyncio.Event(), 60))
    for _ in range(3):  # let the waiter start its sleep on the clock
        await asyncio.sleep(0)
    await clock.advance(60)
    await asyncio.wait_for(waiter, 5)
    assert clock.now() - start == 119


async def test_system_clock_wait_for_returns_when_the_event_is_set() -> None:
    event = asyncio.Event()
    waiter = asyncio.create_task(SystemClock().wait_for(event, 3600))
    await asyncio.sleep(0)
    assert not waiter.done()
    event.set()
    await asyncio.wait_for(waiter, 5)  # bounded: fails rather than hangs
    assert waiter.done()
