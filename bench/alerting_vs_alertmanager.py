"""tocsin's Alertmanager API next to a real Alertmanager, over HTTP on 127.0.0.1.

Both get the same route (one `null` receiver, grouped by alertname and venue)
and the same load from this process:

1. ingest: N distinct alerts (default 100,000) in POSTs of 100 from 4
   concurrent clients; alerts/s and the server's RSS afterwards;
2. listing: `GET /api/v2/alerts` with the N alerts active.

tocsin runs in its own process (uvicorn, the v2 router on a Dispatcher with
an SQLite file store), like Alertmanager does. Needs Debian's
`prometheus-alertmanager` on PATH.

    .venv/bin/python bench/alerting_vs_alertmanager.py [--alerts 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

CONFIG = """
route:
  receiver: "null"
  group_by: [alertname, venue]
  group_wait: 30s
  group_interval: 5m
receivers:
  - name: "null"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int, db: str, config: str) -> None:
    """The tocsin side: run in a child process."""
    if os.environ.get("TOCSIN_BENCH_GC"):
        # What `tocsin run` could do: fewer full collections over the many
        # long-lived objects of 100,000 alerts.
        gc.set_threshold(*(int(x) for x in os.environ["TOCSIN_BENCH_GC"].split(",")))
    import uvicorn
    from fastapi import FastAPI

    from tocsin.alerting.config import load_alertmanager_config
    from tocsin.alerting.dispatcher import Dispatcher
    from tocsin.api.amapi import make_router
    from tocsin.clock import SystemClock
    from tocsin.storage import Store

    clock = SystemClock()
    d = Dispatcher(load_alertmanager_config(config), Store(f"sqlite:///{db}", clock=clock), clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await d.start()
        yield
        await d.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(make_router(d))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as c:
        for _ in range(300):
            try:
                if (await c.get(url + "/api/v2/status")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def ingest(url: str, n: int) -> float:
    batches = [
        [
            {"labels": {"alertname": "ZoneDown", "venue": f"v{i // 10}", "zone": f"z{i}"}}
            for i in range(start, min(n, start + 100))
        ]
        for start in range(0, n, 100)
    ]
    queue: asyncio.Queue[list[dict[str, object]]] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            while not queue.empty():
                r = await c.post("/api/v2/alerts", json=queue.get_nowait())
                r.raise_for_status()

    t = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(4)))
    return n / (time.perf_counter() - t)


async def listing(url: str) -> tuple[float, int]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        t = time.perf_counter()
        r = await c.get("/api/v2/alerts")
        dt = time.perf_counter() - t
    return dt, len(r.json())


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("serve", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    am = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if am is None:
        sys.exit("needs prometheus-alertmanager on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "am.yml"
        cfg.write_text(CONFIG)
        am_port, t_port = free_port(), free_port()
        procs = {
            "alertmanager": await asyncio.create_subprocess_exec(
                am,
                f"--config.file={cfg}",
                f"--storage.path={tmp}/am",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            ),
            "tocsin": await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "serve",
                str(t_port),
                f"{tmp}/t.db",
                str(cfg),
                env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")},
            ),
        }
        urls = {
            "alertmanager": f"http://127.0.0.1:{am_port}",
            "tocsin": f"http://127.0.0.1:{t_port}",
        }
        try:
            for url in urls.values():
                await wait_ready(url)
            print(f"{'':14}{'ingest alerts/s':>16}{'RSS MB':>9}{'GET alerts s':>14}")
            for name, url in urls.items():
                rate = await ingest(url, args.alerts)
                dt, count = await listing(url)
                rss = rss_mb(procs[name].pid)
                print(f"{name:14}{rate:>16,.0f}{rss:>9.0f}{dt:>14.2f}   ({count} listed)")
        finally:
            for p in procs.values():
                p.terminate()
                await p.wait()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        asyncio.run(main())
