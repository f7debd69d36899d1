"""Which async HTTP client should the sources use? httpx vs aiohttp, measured.

Starts one local aiohttp server on 127.0.0.1 (in a child process, so the
server's CPU is not charged to the client) and runs, for each client:

  (a) 200 pages of 500 JSON items each, fetched and decoded sequentially;
  (b) 5,000 small requests at concurrency 50.

Prints requests/s and client CPU seconds for each, and the ratios.

    .venv/bin/python bench/http_client.py [--pages 200] [--small 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import orjson
from aiohttp import web

PAGE_ITEMS = 500


def _page_body(page: int) -> bytes:
    zones = [
        {
            "id": f"v{page:05d}-z{i}",
            "name": "Lobby",
            "importance": "normal",
            "venue": {"id": f"v{page:05d}", "name": "Venue", "region": "eu-north"},
            "status": "online",
            "volume": 42,
            "latency_ms": 12.5,
        }
        for i in range(PAGE_ITEMS)
    ]
    return orjson.dumps({"zones": zones, "page": page, "next_page": page + 1})


def _serve(port: int, ready: Any) -> None:
    pages = {p: _page_body(p) for p in range(1, 11)}

    async def page(request: web.Request) -> web.Response:
        n = int(request.query.get("page", "1"))
        return web.Response(body=pages[(n % 10) + 1], content_type="application/json")

    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b'{"ok":true}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/small", small)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@dataclass
class Result:
    client: str
    case: str
    requests: int
    wall: float
    cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.wall


async def _measure(client: str, case: str, n: int, run: Callable[[], Awaitable[None]]) -> Result:
    cpu0, t0 = _cpu(), time.perf_counter()
    await run()
    return Result(client, case, n, time.perf_counter() - t0, _cpu() - cpu0)


async def _pages_aiohttp(base: str, pages: int) -> None:
    async with aiohttp.ClientSession() as s:
        for p in range(1, pages + 1):
            async with s.get(f"{base}/page", params={"page": str(p)}) as r:
                doc = orjson.loads(await r.read())
                assert len(doc["zones"]) == PAGE_ITEMS


async def _pages_httpx(base: str, pages: int) -> None:
    async with httpx.AsyncClient() as c:
        for p in range(1, pages + 1):
            r = await c.get(f"{base}/page", params={"page": str(p)})
            doc = orjson.loads(r.content)
            assert len(doc["zones"]) == PAGE_ITEMS


async def _small(n: int, conc: int, one: Callable[[], Awaitable[None]]) -> None:
    sem = asyncio.Semaphore(conc)

    async def task() -> None:
        async with sem:
            await one()

    await asyncio.gather(*(task() for _ in range(n)))


async def _small_aiohttp(base: str, n: int, conc: int) -> None:
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=connector) as s:

        async def one() -> None:
            async with s.get(f"{base}/small") as r:
                await r.read()
                assert r.status == 200

        await _small(n, conc, one)


async def _small_httpx(base: str, n: int, conc: int) -> None:
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(limits=limits) as c:

        async def one() -> None:
            r = await c.get(f"{base}/small")
            assert r.status_code == 200

        await _small(n, conc, one)


async def _run(base: str, pages: int, small: int, conc: int) -> list[Result]:
    out: list[Result] = []
    # Warm both up once so connection setup and imports are not measured.
    await _pages_aiohttp(base, 2)
    await _pages_httpx(base, 2)
    for _ in range(2):  # two rounds, interleaved, to even out noise
        out.append(await _measure("aiohttp", "pages", pages, lambda: _pages_aiohttp(base, pages)))
        out.append(await _measure("httpx", "pages", pages, lambda: _pages_httpx(base, pages)))
        out.append(
            await _measure("aiohttp", "small", small, lambda: _small_aiohttp(base, small, conc))
        )
        out.append(await _measure("httpx", "small", small, lambda: _small_httpx(base, small, conc)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=50)
    args = ap.parse_args()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(10):
            raise SystemExit("bench server did not start")
        results = asyncio.run(
            _run(f"http://127.0.0.1:{port}", args.pages, args.small, args.concurrency)
        )
    finally:
        server.terminate()
        server.join()

    print(
        f"python {sys.version.split()[0]}  aiohttp {aiohttp.__version__}  httpx {httpx.__version__}"
    )
    print(f"{'case':<6} {'client':<8} {'requests':>8} {'wall s':>8} {'req/s':>9} {'cpu s':>7}")
    best: dict[tuple[str, str], Result] = {}
    for r in results:
        print(
            f"{r.case:<6} {r.client:<8} {r.requests:>8} {r.wall:>8.3f} {r.rps:>9.0f} {r.cpu:>7.3f}"
        )
        key = (r.case, r.client)
        if key not in best or r.wall < best[key].wall:
            best[key] = r
    print("best of rounds, aiohttp relative to httpx:")
    for case in ("pages", "small"):
        a, h = best[(case, "aiohttp")], best[(case, "httpx")]
        print(
            f"  {case}: req/s x{a.rps / h.rps:.2f}, cpu s x{a.cpu / h.cpu:.2f} "
            f"(aiohttp {a.rps:.0f} req/s {a.cpu:.2f} cpu s; "
            f"httpx {h.rps:.0f} req/s {h.cpu:.2f} cpu s)"
        )


if __name__ == "__main__":
    main()
