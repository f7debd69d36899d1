"""How fast does the fleet simulator serve 500-zone pages, and what does it hold in memory?

For each fleet size, starts `tocsin sim` in a child process on 127.0.0.1 (so
the server's CPU and RSS are its own), then from this process:

  build      time until the simulator listens, and its RSS then
  cold       a sweep of every 500-zone page (page style) right after a fault
             changed the fleet, so every page is rendered and serialized
  warm       the same sweep again: pages come from the cache
  304        the same sweep with If-None-Match: empty 304 answers
  cursor     a cold sweep in cursor style (limit=500), one request at a time

Each figure sums at least --repeat sweeps (and at least 400 pages). Last, the
same cold rendering is timed in process, without HTTP or a client competing
for the CPU.
and prints pages/s, server CPU ms per page, and RSS (before and after the
page cache filled). RSS per zone is reported above a 1-venue baseline (the
interpreter and libraries).

    .venv/bin/python bench/sim_pages.py [--zones 10000 100000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parent.parent
PAGE = 500
ZONES_PER_VENUE = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


@dataclass
class Sim:
    proc: subprocess.Popen[str]
    base: str
    build_s: float


def start_sim(zones: int) -> Sim:
    port = free_port()
    venues = max(1, zones // ZONES_PER_VENUE)
    cmd = [
        sys.executable, "-m", "tocsin", "sim", "--venues", str(venues),
        "--zones-per-venue", str(ZONES_PER_VENUE), "--port", str(port),
        # A day-long heartbeat slot: pages change only when the bench says so.
        "--heartbeat-interval", "86400",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return Sim(proc, f"http://127.0.0.1:{port}", time.perf_counter() - started)


def stop_sim(sim: Sim) -> None:
    sim.proc.terminate()
    sim.proc.communicate(timeout=30)


async def sweep(
    http: aiohttp.ClientSession,
    urls: list[str],
    concurrency: int,
    etags: dict[str, str] | None = None,
    conditional: bool = False,
) -> tuple[int, float]:
    """Fetch every URL; returns (number of 200s, wall seconds)."""
    queue = list(reversed(urls))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        while queue:
            url = queue.pop()
            headers = {}
            if conditional and etags is not None:
                headers["If-None-Match"] = etags[url]
            async with http.get(url, headers=headers) as r:
                await r.read()
                if r.status == 200:
                    ok += 1
                    if etags is not None:
                        etags[url] = r.headers["ETag"]
                elif r.status != 304:
                    raise RuntimeError(f"{url}: HTTP {r.status}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, time.perf_counter() - started


async def cursor_sweep(http: aiohttp.ClientSession, base: str) -> tuple[int, float]:
    started = time.perf_counter()
    pages, url = 0, f"{base}/v1/zones?limit={PAGE}"
    while url:
        async with http.get(url) as r:
            doc = orjson.loads(await r.read())
        pages += 1
        cursor = doc["next_cursor"]
        url = f"{base}/v1/zones?cursor={cursor}&limit={PAGE}" if cursor else ""
    return pages, time.perf_counter() - started


async def invalidate(http: aiohttp.ClientSession, base: str) -> None:
    """Change one zone's status so every cached page is stale."""
    async with http.post(f"{base}/admin/faults", json={"kind": "zone_outage", "count": 1}) as r:
        assert r.status == 201, await r.text()


def line(label: str, pages: int, wall: float, cpu: float) -> str:
    return (
        f"  {label:<7} {pages:>5} pages  {pages / wall:>8.0f} pages/s  "
        f"{wall:>6.2f} s wall  {cpu / pages * 1000:>6.2f} ms server CPU/page"
    )


def render_cost(zones: int) -> float:
    """In-process ms to render, serialize and hash one cold 500-zone page (no HTTP)."""
    from tocsin.sim.config import SimConfig
    from tocsin.sim.engine import SimEngine
    from tocsin.sim.render import ZoneRenderer, dumps, etag_of

    engine = SimEngine(SimConfig(venues=zones // ZONES_PER_VENUE), time.time())
    renderer, view = ZoneRenderer(engine.fleet), engine.view()
    pages = -(-zones // PAGE)
    started = time.process_time()
    for p in range(pages):
        etag_of(dumps({"zones": renderer.zones(view, range(p * PAGE, min(zones, (p + 1) * PAGE)))}))
    return (time.process_time() - started) / pages * 1000


async def measure(zones: int, concurrency: int, repeat: int, baseline_mib: float) -> None:
    sim = start_sim(zones)
    pid = sim.proc.pid
    try:
        rss_built = rss_mib(pid)
        print(
            f"{zones:,} zones: built and listening in {sim.build_s:.2f} s, RSS {rss_built:.1f} MiB"
        )
        per_zone = (rss_built - baseline_mib) * 1024 * 1024 / zones
        print(f"  RSS above the 1-venue baseline: {per_zone:.0f} bytes/zone")
        n_pages = -(-zones // PAGE)
        urls = [f"{sim.base}/v1/zones?page={p}&page_size={PAGE}" for p in range(1, n_pages + 1)]
        etags: dict[str, str] = {}
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            # Enough sweeps for at least 400 pages, so CPU ticks (10 ms) average out.
            rounds = max(repeat, -(-400 // n_pages))
            for label, conditional in (("cold", False), ("warm", False), ("304", True)):
                wall = cpu = 0.0
                for _ in range(rounds):
                    if label == "cold":
                        await invalidate(http, sim.base)
                    cpu0 = cpu_seconds(pid)
                    ok, w = await sweep(http, urls, concurrency, etags, conditional)
                    wall, cpu = wall + w, cpu + cpu_seconds(pid) - cpu0
                    if label == "304":
                        assert ok == 0, f"{ok} pages changed under If-None-Match"
                print(line(label, len(urls) * rounds, wall, cpu))
            wall = cpu = 0.0
            total = 0
            for _ in range(rounds):
                await invalidate(http, sim.base)
                cpu0 = cpu_seconds(pid)
                pages, w = await cursor_sweep(http, sim.base)
                wall, cpu, total = wall + w, cpu + cpu_seconds(pid) - cpu0, total + pages
            print(line("cursor", total, wall, cpu))
        print(f"  RSS with the page cache filled: {rss_mib(pid):.1f} MiB")
    finally:
        stop_sim(sim)
    print(f"  render+serialize+hash in process: {render_cost(zones):.2f} ms CPU per cold page")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zones", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5, help="sweeps per figure, at least")
    args = parser.parse_args()
    base = start_sim(ZONES_PER_VENUE)
    baseline = rss_mib(base.proc.pid)
    stop_sim(base)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; baseline RSS {baseline:.1f} MiB"
    )
    print(f"page size {PAGE}, client concurrency {args.concurrency}")
    for zones in args.zones:
        await measure(zones, args.concurrency, args.repeat, baseline)


if __name__ == "__main__":
    asyncio.run(main())
