"""tocsin and a real Prometheus scrape the same exporter and must agree."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fastapi import FastAPI

from tests.support import running_prometheus, serve_app
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


def _prometheus_config(target: str) -> str:
    return (
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: fleet\n    static_configs: [{{targets: ['{target}']}}]\n"
    )


async def _get(session: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with session.get(url, params=params) as r:
        return await r.json()


def _by_metric(data: dict[str, Any]) -> dict[tuple[tuple[str, str], ...], str]:
    return {tuple(sorted(s["metric"].items())): s["value"][1] for s in data["result"]}


@pytest.mark.slow
async def test_same_answers_as_prometheus(tmp_path: Path) -> None:
    db = TSDB().open()
    app = FastAPI()
    app.include_router(make_router(db, Engine()))
    async with (
        serve_exporter(BODY) as exp,
        running_prometheus(
            tmp_path, _prometheus_config(exp.target), ready_query="count(zone_up)"
        ) as prom,
        serve_app(app) as ours,
        aiohttp.ClientSession() as session,
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
            async with asyncio.timeout(10):  # our first scrape: real network I/O
                while mgr.targets()[0].last_scrape is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            for q in QUERIES:
                theirs = await _get(session, f"{prom}/api/v1/query", query=q)
                mine = await _get(session, f"{ours}/api/v1/query", query=q)
                assert mine["status"] == theirs["status"] == "success", (q, mine)
                assert mine["data"]["resultType"] == theirs["data"]["resultType"]
                assert _by_metric(mine["data"]) == _by_metric(theirs["data"]), q
            their_series = await _get(session, f"{prom}/api/v1/series", **{"match[]": "zone_up"})
            our_series = await _get(session, f"{ours}/api/v1/series", **{"match[]": "zone_up"})
            key = lambda d: sorted(d.items())  # noqa: E731
            assert sorted(our_series["data"], key=key) == sorted(their_series["data"], key=key)
            their_vals = await _get(session, f"{prom}/api/v1/label/venue/values")
            our_vals = await _get(session, f"{ours}/api/v1/label/venue/values")
            assert our_vals["data"] == their_vals["data"]
        finally:
            await mgr.close()
