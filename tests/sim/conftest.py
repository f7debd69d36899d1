from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from multidict import CIMultiDict

from tocsin.clock import FakeClock
from tocsin.sim import FleetSimulator, SimConfig


class Reply:
    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return orjson.loads(self.body)


class Harness:
    """A running simulator on 127.0.0.1 driven by a FakeClock, plus an HTTP client."""

    def __init__(self, sim: FleetSimulator, http: aiohttp.ClientSession, clock: FakeClock) -> None:
        self.sim = sim
        self.http = http
        self.clock = clock
        assert sim.base_url is not None
        self.base = sim.base_url

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        url = path if path.startswith("http") else self.base + path
        async with self.http.get(url, headers=headers) as r:
            return Reply(r.status, CIMultiDict(r.headers), await r.read())

    async def json(self, path: str, headers: dict[str, str] | None = None) -> Any:
        reply = await self.get(path, headers)
        assert reply.status == 200, (reply.status, reply.body[:200])
        return reply.json()

    async def post(self, path: str, body: Any) -> Reply:
        async with self.http.post(self.base + path, data=orjson.dumps(body)) as r:
            return Reply(r.status, CIMultiDict(r.headers), await r.read())

    async def delete(self, path: str) -> Reply:
        async with self.http.delete(self.base + path) as r:
            return Reply(r.status, CIMultiDict(r.headers), await r.read())

    async def at(self, offset: float) -> None:
        """Move the fake clock to `offset` seconds after simulator start."""
        await self.clock.advance(self.sim.engine.t0 + offset - self.clock.now())

    async def zone_status(self, zone_id: str) -> str:
        return str((await self.json(f"/v1/zones/{zone_id}"))["status"])


StartSim = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start_sim(clock: FakeClock) -> AsyncIterator[StartSim]:
    """Factory: `await start_sim(venues=..., **SimConfig fields)` -> Harness."""
    made: list[tuple[FleetSimulator, aiohttp.ClientSession]] = []

    async def start(**fields: Any) -> Harness:
        fields.setdefault("venues", 10)
        fields.setdefault("zones_per_venue", 5)
        fields.setdefault("failing_share", 0.0)
        sim = FleetSimulator(SimConfig(**fields), clock)
        await sim.start()
        http = aiohttp.ClientSession()
        made.append((sim, http))
        return Harness(sim, http, clock)

    yield start
    for sim, http in made:
        await http.close()
        await sim.stop()
