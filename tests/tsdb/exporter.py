"""A real local HTTP exporter serving exposition text for scrape tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Exporter:
    body: str = ""
    status: int = 200
    requests: list[web.Request] = field(default_factory=list)
    port: int = 0
    delay: float = 0.0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if self.delay:  # a slow exporter, for scrape timeouts (real network time)
            await asyncio.sleep(self.delay)
        return web.Response(
            text=self.body, status=self.status, content_type="text/plain", charset="utf-8"
        )


@asynccontextmanager
async def serve_exporter(body: str = "") -> AsyncIterator[Exporter]:
    exp = Exporter(body=body)
    app = web.Application()
    app.router.add_get("/metrics", exp.handle)
    app.router.add_get("/other", exp.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    exp.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield exp
    finally:
        await runner.cleanup()
