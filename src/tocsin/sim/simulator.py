"""`FleetSimulator`: the engine behind a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tocsin.clock import Clock, SystemClock
from tocsin.sim.config import FaultSpec, SimConfig
from tocsin.sim.engine import SimEngine
from tocsin.sim.server import SimServer
from tocsin.sim.truth import TruthRecord

# The ticker applies due events (and so writes the truth file) even when no
# request arrives; requests and admin calls also apply them on their own.
_TICK_MAX = 1.0


class FleetSimulator:
    """A fleet of simulated zones behind the vendor API.

    Simulation time starts when the object is built: scenario `at` offsets and
    the initial failing zones count from then, on the injected clock.
    """

    def __init__(self, config: SimConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.engine = SimEngine(config, self.clock.now())
        self._stopping = asyncio.Event()
        self.server = SimServer(self.engine, self.clock, self._hold)
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.base_url: str | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port); returns the base URL."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        if self._closed:
            raise RuntimeError("simulator was stopped; build a new one")
        runner = web.AppRunner(self.server.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        addr = runner.addresses[0]
        self.base_url = f"http://{host}:{addr[1]}"
        self._ticker = asyncio.create_task(self._tick(), name="tocsin-sim-ticker")
        # Let the ticker reach its first clock.sleep, so a FakeClock advanced
        # right after start() wakes it.
        await asyncio.sleep(0)
        return self.base_url

    async def stop(self) -> None:
        """Stop serving, release hung requests, write still-open outages (end null)."""
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if not self._closed:
            self._closed = True
            self.engine.close(self.clock.now())

    async def __aenter__(self) -> FleetSimulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _tick(self) -> None:
        while True:
            now = self.clock.now()
            nxt = self.engine.next_event_time()
            wait = _TICK_MAX if nxt is None else min(_TICK_MAX, max(0.001, nxt - now))
            await self.clock.sleep(wait)
            self.engine.sync(self.clock.now())

    async def _hold(self, seconds: float) -> None:
        """Sleep on the clock for a slow/timeout fault, cut short by stop()."""
        await self.clock.wait_for(self._stopping, seconds)

    # -- control -------------------------------------------------------------

    def sync(self) -> None:
        """Apply every fault event due by the clock's now."""
        self.engine.sync(self.clock.now())

    def add_fault(self, spec: FaultSpec | Mapping[str, Any] | None = None, **fields: Any) -> str:
        """Add a fault (a FaultSpec, a mapping or keyword fields); returns its id.

        Raises pydantic.ValidationError for a malformed spec and
        tocsin.sim.engine.FaultError for unknown zones/venues or a duplicate id.
        """
        if spec is None:
            spec = FaultSpec.model_validate(fields)
        elif not isinstance(spec, FaultSpec):
            spec = FaultSpec.model_validate({**spec, **fields})
        self.sync()
        return self.engine.add_fault(spec).id

    def remove_fault(self, fault_id: str) -> None:
        """End a fault now (KeyError if unknown)."""
        self.engine.remove_fault(fault_id, self.clock.now())

    def faults(self) -> list[dict[str, Any]]:
        self.sync()
        return [f.describe(self.engine.fleet, self.engine.t0) for f in self.engine.faults.values()]

    def truth(self) -> list[TruthRecord]:
        """Ground truth so far: closed records, then open ones with end None."""
        self.sync()
        return self.engine.truth()

    def offline_zone_ids(self) -> list[str]:
        """Zones offline in reality right now (what a perfect poller would report)."""
        self.sync()
        fleet = self.engine.fleet
        return [fleet.zone_id(i) for i in sorted(self.engine.world.opened_by)]

    def stats(self) -> dict[str, Any]:
        return self.server.stats.as_dict(self.server.cache)

    @property
    def zone_count(self) -> int:
        return len(self.engine.fleet)


async def start_simulator(
    config: SimConfig, clock: Clock | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> FleetSimulator:
    """Build and start a simulator in the running event loop (for `tocsin run --demo`)."""
    sim = FleetSimulator(config, clock)
    await sim.start(host, port)
    return sim
