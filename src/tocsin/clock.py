"""Clocks. Every timing decision in tocsin takes a Clock so tests can drive time."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in Unix seconds, plus a way to wait for it."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait_for(self, event: asyncio.Event, seconds: float) -> None:
        """Return once `seconds` have passed on this clock or `event` is set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def wait_for(self, event: asyncio.Event, seconds: float) -> None:
        # A timer on the waiting task itself: setting the event wakes it
        # directly, a loop step sooner than through helper tasks (this is on
        # the path from an alert's POST to its first notification).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, seconds)):
                await event.wait()


class FakeClock:
    """A virtual clock for tests: time moves only when `advance` is called.

    Coroutines that `sleep` on it wake up, in due-time order, when `advance`
    moves time past their deadline.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    def set(self, t: float) -> None:
        self._now = t

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    async def wait_for(self, event: asyncio.Event, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waker = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers one deadline at a time."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, due)
            if not fut.done():
                fut.set_result(None)
            # Let the woken task run (and possibly schedule new sleeps) before
            # moving on, so ordering matches what real time would give.
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = target
        for _ in range(5):
            await asyncio.sleep(0)
