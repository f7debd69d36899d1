"""The music-fleet reference setup, end to end on a virtual clock.

Simulator -> source -> detection -> tsdb -> rules -> routing -> webhooks,
with the example's own config files (only addresses and sizes rewritten for
the test). Checks who is notified, when, and with what.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.support import REPO, serve_app
from tocsin.api.app import create_app
from tocsin.clock import FakeClock
from tocsin.config.loader import load_config
from tocsin.runtime.engine import Runtime
from tocsin.sim.config import SimConfig
from tocsin.sim.simulator import FleetSimulator

EXAMPLE = REPO / "examples" / "music-fleet"
# 06:40 UTC = 07:40 in Stockholm (winter): the 08:00 digest falls 20 minutes in.
START = datetime(2026, 1, 15, 6, 40, tzinfo=UTC).timestamp()
STEP = 30.0


@dataclass
class Inbox:
    """A webhook endpoint that records each payload with the virtual time it arrived."""

    clock: FakeClock
    got: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        assert body["version"] == "4"
        self.got.append((request.path.strip("/"), self.clock.now(), body))
        return web.Response(text="ok")

    def to(self, who: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, b) for w, t, b in self.got if w == who]


def alertnames(payload: dict[str, Any]) -> set[str]:
    return {a["labels"]["alertname"] for a in payload["alerts"]}


@dataclass
class Fleet:
    clock: FakeClock
    sim: FleetSimulator
    runtime: Runtime
    api: httpx.AsyncClient
    inbox: Inbox

    def minutes(self) -> float:
        return (self.clock.now() - START) / 60

    async def run_until(self, minute: float) -> None:
        while self.minutes() < minute:
            await self.clock.advance(STEP)
            self.sim.sync()
            await self.runtime.sweep_all()
            await self.runtime.evaluate_rules()
            await asyncio.sleep(0.02)  # let real webhook I/O complete

    async def zone(self, venue: str, importance: str, n: int = 1) -> list[str]:
        resp = await self.api.get(
            "/api/tocsin/v1/targets",
            params={"label": [f"venue={venue}", f"importance={importance}"]},
        )
        ids = sorted(t["id"] for t in resp.json()["targets"])
        assert len(ids) >= n
        return ids[:n]


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    clock = FakeClock(start=START)
    inbox = Inbox(clock)
    hooks = web.Application()
    hooks.router.add_post("/{who}", inbox.handle)
    runner = web.AppRunner(hooks)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    sim = FleetSimulator(SimConfig(venues=12, zones_per_venue=5, failing_share=0.0, seed=11), clock)
    sim_url = await sim.start()

    conf = tmp_path / "music-fleet"
    shutil.copytree(EXAMPLE, conf)
    (conf / "alertmanager.yml").write_text(
        (conf / "alertmanager.yml")
        .read_text()
        .replace("http://127.0.0.1:5001", f"http://127.0.0.1:{hook_port}")
    )
    main = (conf / "tocsin.yml").read_text()
    main = main.replace("http://127.0.0.1:9096", sim_url).replace("enabled: true", "enabled: false")
    main = main.replace("sqlite:///data/music-fleet.db", f"sqlite:///{tmp_path / 'state.db'}")
    (conf / "tocsin.yml").write_text(main)

    runtime = Runtime(load_config(conf / "tocsin.yml"), clock)
    await runtime.start(poll=False)
    try:
        async with (
            serve_app(create_app(runtime, runtime.api_routers())) as url,
            httpx.AsyncClient(base_url=url, timeout=10) as api,
        ):
            await clock.advance(0)
            await runtime.sweep_all()
            yield Fleet(clock, sim, runtime, api, inbox)
    finally:
        await runtime.stop()
        await sim.stop()
        await runner.cleanup()


async def test_music_fleet_notifies_the_right_people_at_the_right_time(fleet: Fleet) -> None:
    f = fleet
    [lobby_a] = await f.zone("v00001", "critical")
    zones_b = await f.zone("v00002", "normal", 2)
    [zone_c] = await f.zone("v00003", "normal")
    [office_d] = await f.zone("v00004", "back-office")

    await f.run_until(1)
    f.sim.add_fault(kind="zone_outage", zones=[lobby_a])
    f.sim.add_fault(kind="flapping", zones=[office_d], period=60)
    await f.run_until(5)
    # Critical: venue IT and support, at once (2 failing sweeps + one evaluation).
    for who in ("venue-it", "support"):
        [(t, payload)] = f.inbox.to(who)
        assert alertnames(payload) == {"ZoneDownCritical"}
        assert payload["alerts"][0]["labels"]["target"] == lobby_a
        assert 1 <= (t - START) / 60 <= 3

    f.sim.add_fault(kind="zone_outage", zones=zones_b)
    await f.run_until(10)
    f.sim.add_fault(kind="zone_outage", zones=[zone_c])
    # High: venue IT and the regional manager; the single-zone alerts are inhibited.
    [(t, payload)] = f.inbox.to("regional-manager")
    assert alertnames(payload) == {"VenueZonesDown"}
    assert payload["alerts"][0]["labels"]["venue"] == "v00002"
    assert 5 <= (t - START) / 60 <= 8
    venue_it = [alertnames(p) for _, p in f.inbox.to("venue-it")]
    assert {"VenueZonesDown"} in venue_it
    assert not any("ZoneDown" in names for names in venue_it)

    await f.run_until(21)
    # Low: the volume-compliance digest arrives once, at 08:00 Stockholm time.
    digests = f.inbox.to("venue-manager")
    assert len(digests) == 1, digests
    t, payload = digests[0]
    assert datetime.fromtimestamp(t, UTC).strftime("%H:%M") in ("07:00", "07:01")
    assert alertnames(payload) == {"VolumeCompliance"}

    await f.run_until(35)
    # Medium: zone C reaches venue IT only after the 30-minute aggregation.
    assert not any("ZoneDown" in alertnames(p) for _, p in f.inbox.to("venue-it"))
    await f.run_until(44)
    medium = [(t, p) for t, p in f.inbox.to("venue-it") if "ZoneDown" in alertnames(p)]
    assert len(medium) == 1
    t, payload = medium[0]
    assert {a["labels"]["target"] for a in payload["alerts"]} == {zone_c}
    assert 40 <= (t - START) / 60 <= 43

    # Info: the flapping zone is visible in the API and notified to nobody.
    alerts = (await f.api.get("/api/v2/alerts")).json()
    flapping = [a for a in alerts if a["labels"]["alertname"] == "ZoneFlapping"]
    assert [a["labels"]["target"] for a in flapping] == [office_d]
    assert not any("ZoneFlapping" in alertnames(p) for _, _, p in f.inbox.got)

    # Deliveries are counted in /metrics per receiver (two webhooks for the critical one).
    metrics = {
        (s.name, s.labels.get("receiver", ""), s.labels.get("state", "")): s.value
        for fam in text_string_to_metric_families((await f.api.get("/metrics")).text)
        for s in fam.samples
    }
    assert metrics[("tocsin_notifications_total", "venue-it-and-support", "")] == 2
    assert metrics[("tocsin_notifications_total", "venue-manager", "")] == 1
    assert ("tocsin_alerts", "", "active") in metrics
