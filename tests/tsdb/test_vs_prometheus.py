"""tocsin and a real Prometheus scrape the same exporter and must agree."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support import free_port, need_program
from tocsin.api.promapi import make_router
from tocsin.clock import SystemClock
from tocsin.promql import Engine
from tocsin.tsdb.config import ScrapeConfig, StaticConfig
from tocsin.tsdb.db import TSDB
from tocsin.tsdb.scrape import ScrapeManager

from .exporter import serve_exporter

BODY = (
    "".join(
        f'zone_up{{venue="v{i % 7}",zone="z{i}",importance="{"high" if i % 5 == 0 else "low"}"}} '
        f"{0 if i % 11 == 0 else 1}\n"
        for i in range(200)
    )
    + 'zone_latency_seconds{zone="z1",job="exported"} 0.25\n'
)

QUERIES = [
    "sum by (venue) (zone_up)",
    "count by (venue) (zone_up == 0) >= 2",
    "sum(zone_up) / count(zone_up)",
    'zone_up{zone=~"z1[0-9]",importance="high"}',
    "zone_latency_seconds",
    "up",
    "scrape_samples_scraped",
]


@contextlib.asynccontextmanager
async def _prometheus(tmp: Path, target: str) -> AsyncIterator[str]:
    exe = need_program("prometheus")
    port = free_port()
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: fleet\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    proc = await asyncio.create_subprocess_exec(
        exe,
        f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _by_metric(data: dict[str, Any]) -> dict[tuple[tuple[str, str], ...], str]:
    return {tuple(sorted(s["metric"].items())): s["value"][1] for s in data["result"]}


@pytest.mark.slow
async def test_same_answers_as_prometheus(tmp_path: Path) -> None:
    db = TSDB().open()
    app = FastAPI()
    app.include_router(make_router(db, Engine()))
    async with (
        serve_exporter(BODY) as exp,
        _prometheus(tmp_path, exp.target) as prom,
        httpx.AsyncClient(base_url=prom) as pc,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as tc,
    ):
        mgr = ScrapeManager(db, SystemClock(), spread=False)
        mgr.apply(
            [
                ScrapeConfig(
                    job_name="fleet",
                    scrape_interval=1,
                    scrape_timeout=1,
                    static_configs=[StaticConfig(targets=[exp.target])],
                )
            ]
        )
        try:
            async with asyncio.timeout(30):
                while True:
                    r = await pc.get("/api/v1/query", params={"query": "count(zone_up)"})
                    if r.status_code == 200 and r.json()["data"]["result"]:
                        break
                    await asyncio.sleep(0.2)
            for q in QUERIES:
                theirs = (await pc.get("/api/v1/query", params={"query": q})).json()
                ours = (await tc.get("/api/v1/query", params={"query": q})).json()
                assert ours["status"] == theirs["status"] == "success", (q, ours)
                assert ours["data"]["resultType"] == theirs["data"]["resultType"]
                assert _by_metric(ours["data"]) == _by_metric(theirs["data"]), q
            their_series = (await pc.get("/api/v1/series", params={"match[]": "zone_up"})).json()
            our_series = (await tc.get("/api/v1/series", params={"match[]": "zone_up"})).json()
            key = lambda d: sorted(d.items())  # noqa: E731
            assert sorted(our_series["data"], key=key) == sorted(their_series["data"], key=key)
            their_vals = (await pc.get("/api/v1/label/venue/values")).json()["data"]
            assert (await tc.get("/api/v1/label/venue/values")).json()["data"] == their_vals
        finally:
            await mgr.close()
