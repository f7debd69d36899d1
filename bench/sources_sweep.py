"""How fast does the http_json source sweep a big fleet, and at what CPU cost?

Serves N zones (default 100,000) in pages of 500 from a child process on
127.0.0.1 -- either tocsin's fleet simulator (`--server sim`) or a minimal
server with pre-rendered pages (`--server static`, isolates the client's own
cost) -- and sweeps it with HttpJsonSource using the mapping of
docs/sources.md. For each pagination mode it prints wall seconds and client
CPU seconds per sweep, requests, observations, and RSS growth per zone; the
second sweep shows the ETag/304 path. Then it compares the compiled
expression fast path with plain jmespath on the same items.

    .venv/bin/python bench/sources_sweep.py [--zones 100000] [--server sim|static]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import multiprocessing
import resource
import time
from typing import Any

import jmespath
import orjson
from aiohttp import web
from pydantic import TypeAdapter

from tocsin.clock import SystemClock
from tocsin.sources.config import SourceConfig
from tocsin.sources.http_json import HttpJsonSource
from tocsin.sources.jpath import compile_expression

API_KEY = "bench-key"
PAGE = 500

MAPPING: dict[str, Any] = {
    "id": "id",
    "up": "status == 'online'",
    "unknown_if": "status != 'online' && status != 'offline'",
    "labels": {
        "zone": "name",
        "importance": "importance",
        "venue": "venue.name",
        "venue_id": "venue.id",
        "region": "venue.region",
        "timezone": "venue.timezone",
    },
    "latency_seconds": "latency_ms",
    "latency_scale": 0.001,
    "fields": {"volume": "volume"},
}


def _zone(i: int) -> dict[str, Any]:
    v = i // 5
    return {
        "id": f"v{v:05d}-z{i % 5 + 1}",
        "name": ["Lobby", "Bar", "Terrace", "Kitchen", "Office"][i % 5],
        "importance": ["critical", "normal", "normal", "normal", "back-office"][i % 5],
        "venue": {
            "id": f"v{v:05d}",
            "name": f"Venue {v}",
            "region": "eu-north",
            "timezone": "Europe/Stockholm",
        },
        "status": "offline" if i % 97 == 0 else "online",
        "volume": i % 100,
        "latency_ms": 12.5,
        "last_seen": "2026-11-23T08:00:00Z",
    }


def _static_server(zones: int, conn: Any) -> None:
    pages: dict[int, tuple[bytes, str]] = {}
    n_pages = (zones + PAGE - 1) // PAGE
    for p in range(1, n_pages + 1):
        chunk = [_zone(i) for i in range((p - 1) * PAGE, min(zones, p * PAGE))]
        body = orjson.dumps(
            {
                "zones": chunk,
                "page": p,
                "page_size": PAGE,
                "total": zones,
                "next_page": p + 1 if p < n_pages else None,
            }
        )
        pages[p] = (body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("X-API-Key") != API_KEY:
            return web.Response(status=401)
        body, etag = pages[int(request.query.get("page", "1"))]
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/json", headers={"ETag": etag})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/v1/zones", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(f"http://127.0.0.1:{runner.addresses[0][1]}")
        await asyncio.Event().wait()

    asyncio.run(main())


def _sim_server(zones: int, conn: Any) -> None:
    from tocsin.sim.config import SimConfig
    from tocsin.sim.simulator import start_simulator

    async def main() -> None:
        cfg = SimConfig(venues=zones // 5, zones_per_venue=5, api_key=API_KEY, max_page_size=500)
        sim = await start_simulator(cfg)
        conn.send(sim.base_url)
        await asyncio.Event().wait()

    asyncio.run(main())


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _config(base: str, pagination: dict[str, Any]) -> Any:
    raw = {
        "type": "http_json",
        "name": "bench",
        "url": f"{base}/v1/zones",
        "headers": {"X-API-Key": API_KEY},
        "pagination": {"style": "page", "page_size": PAGE, **pagination},
        "items": "zones",
        "mapping": MAPPING,
        "concurrency": 8,
    }
    return TypeAdapter(SourceConfig).validate_python(raw)


async def _sweeps(base: str, zones: int) -> None:
    modes = [
        ("page, sequential (next_page)", {"next_page": "next_page"}),
        ("page, concurrent (total)", {"total": "total"}),
    ]
    print(
        f"{'mode':<30} {'sweep':>5} {'wall s':>7} {'cpu s':>6} {'reqs':>5} {'obs':>7} {'down':>5}"
    )
    for label, pagination in modes:
        gc.collect()
        rss0 = _rss()
        source = HttpJsonSource(_config(base, pagination), SystemClock())
        kept: Any = None
        for n in (1, 2):
            cpu0, t0 = _cpu(), time.perf_counter()
            result = await source.sweep()
            wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
            if not result.ok:
                raise SystemExit(f"sweep failed: {result.error}")
            down = sum(1 for o in result.observations if o.up is False)
            print(
                f"{label:<30} {n:>5} {wall:>7.2f} {cpu:>6.2f} {result.requests:>5} "
                f"{len(result.observations):>7} {down:>5}"
            )
            kept = result
        gc.collect()
        per_zone = (_rss() - rss0) / max(1, len(kept.observations))
        print(f"{'':<30} RSS growth with one sweep held + ETag cache: {per_zone:.0f} B/zone")
        await source.close()
        del kept, source


def _mapping_bench(zones: int) -> None:
    items = [_zone(i) for i in range(min(zones, 100_000))]
    exprs = [
        MAPPING["id"],
        MAPPING["up"],
        MAPPING["unknown_if"],
        *MAPPING["labels"].values(),
        MAPPING["latency_seconds"],
        *MAPPING["fields"].values(),
    ]
    for label, getters in [
        ("compiled fast path", [compile_expression(e) for e in exprs]),
        ("jmespath .search", [jmespath.compile(e).search for e in exprs]),
    ]:
        t0 = time.perf_counter()
        for item in items:
            for g in getters:
                g(item)
        dt = time.perf_counter() - t0
        print(
            f"  {label:<20} {len(items)} items x {len(exprs)} expressions: {dt:.3f} s "
            f"({dt / len(items) * 1e6:.2f} us/item)"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--zones", type=int, default=100_000)
    ap.add_argument("--server", choices=["sim", "static"], default="static")
    args = ap.parse_args()
    parent, child = multiprocessing.Pipe()
    target = _sim_server if args.server == "sim" else _static_server
    proc = multiprocessing.Process(target=target, args=(args.zones, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            raise SystemExit("server did not start")
        base = parent.recv()
        print(f"{args.zones} zones, pages of {PAGE}, server: {args.server} ({base})")
        asyncio.run(_sweeps(base, args.zones))
    finally:
        proc.terminate()
        proc.join()
    print("expression evaluation only:")
    _mapping_bench(args.zones)


if __name__ == "__main__":
    main()
