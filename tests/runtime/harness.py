"""An end-to-end harness: simulator + tocsin runtime + real HTTP API, on a FakeClock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import serve_app
from tocsin.api.app import create_app
from tocsin.clock import FakeClock
from tocsin.config.loader import load_config
from tocsin.runtime.engine import Runtime
from tocsin.sim.config import SimConfig
from tocsin.sim.simulator import FleetSimulator

INTERVAL = 30


def fleet_config(sim_url: str, db: Path, extra: str = "", sources: str = "") -> str:
    return f"""
database: sqlite:///{db}
sources:
  - name: fleet
    type: http_json
    url: {sim_url}/v1/zones
    interval: {INTERVAL}
    timeout: 5
    backoff: {{retries: 0}}
    pagination: {{style: page, page_size: 40, next_page: next_page}}
    items: zones
    mapping:
      id: id
      up: "status == 'online'"
      labels: {{venue: venue.id, zone: name, importance: importance}}
      latency_seconds: latency_ms
      latency_scale: 0.001
    recheck_url: {sim_url}/v1/zones/{{id}}
{sources}
detection:
  confirm:
    - match: {{importance: critical}}
      down_after: {{failures: 2, of: 3}}
      up_after: 2
    - default: true
      down_after: {{failures: 3, of: 5}}
      up_after: 3
{extra}
"""


@dataclass
class Harness:
    clock: FakeClock
    sim: FleetSimulator
    runtime: Runtime
    api: httpx.AsyncClient
    config_path: Path

    async def round(self) -> None:
        """Let one interval pass, then run one sweep of every source."""
        await self.clock.advance(INTERVAL)
        self.sim.sync()
        await self.runtime.sweep_all()

    async def state(self, target_id: str) -> dict[str, Any]:
        resp = await self.api.get(f"/api/tocsin/v1/targets/{target_id}")
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    async def pick(self, importance: str, n: int = 1) -> list[str]:
        """Ids of `n` zones of the given importance (zone names depend on the seed)."""
        resp = await self.api.get(
            "/api/tocsin/v1/targets", params={"label": f"importance={importance}", "limit": n}
        )
        ids = [t["id"] for t in resp.json()["targets"]]
        assert len(ids) == n, f"fleet has fewer than {n} {importance} zones"
        return ids

    async def up_samples(self) -> dict[str, float]:
        text = (await self.api.get("/metrics")).text
        return {
            s.labels["target"]: s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
            if s.name == "tocsin_target_up"
        }

    async def decisions(self) -> dict[str, float]:
        text = (await self.api.get("/metrics")).text
        return {
            s.labels["decision"]: s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
            if s.name == "tocsin_detection_decisions_total"
        }


@asynccontextmanager
async def harness(
    tmp_path: Path,
    *,
    venues: int = 20,
    extra: str = "",
    sources: str = "",
    db: Path | None = None,
    clock: FakeClock | None = None,
) -> AsyncIterator[Harness]:
    clock = clock or FakeClock()
    sim = FleetSimulator(
        SimConfig(venues=venues, zones_per_venue=5, failing_share=0.0, seed=7), clock
    )
    url = await sim.start()
    path = tmp_path / "tocsin.yml"
    path.write_text(fleet_config(url, db or tmp_path / "state.db", extra, sources))
    runtime = Runtime(load_config(path), clock, config_path=path)
    await runtime.start(poll=False)
    try:
        async with (
            serve_app(create_app(runtime, runtime.api_routers())) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=10) as api,
        ):
            yield Harness(clock, sim, runtime, api, path)
    finally:
        await runtime.stop()
        await sim.stop()
