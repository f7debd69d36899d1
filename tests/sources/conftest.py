from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from tocsin.clock import FakeClock

Serve = Callable[[web.Application], Awaitable[str]]


class InstantClock(FakeClock):
    """A FakeClock whose sleeps return at once, moving time and noting the wait.

    For sweeps that back off or wait for Retry-After: the test asserts the
    waits instead of living through them.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__(start)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.set(self.now() + max(0.0, seconds))
        await asyncio.sleep(0)


@pytest.fixture
def instant_clock() -> InstantClock:
    return InstantClock()


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start aiohttp apps on 127.0.0.1 (random port); returns their base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()
