from __future__ import annotations

import asyncio

from tocsin.clock import FakeClock


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
