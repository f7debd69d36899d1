"""How fast is the dispatcher: intake, fan-out of many new groups, API listing?

1. intake: N distinct alerts (default 100,000) put in batches of 100, into
   an SQLite file store (state and history written as they change);
2. fan-out: G groups (default 10,000) opening at once with group_wait 0,
   flushed through the whole pipeline to a no-op integration;
3. listing: GET /api/v2/alerts over the N alerts through the ASGI app.

Times are wall-clock; the dispatcher runs on a virtual clock so no timer
waits for real.

    .venv/bin/python bench/alerting_dispatch.py [--alerts 100000] [--groups 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.dispatcher import Dispatcher
from tocsin.alerting.model import Alert
from tocsin.api.amapi import make_router
from tocsin.clock import FakeClock
from tocsin.notify.dispatch import Receivers
from tocsin.notify.retry import MemoryAttemptSink, Retrier
from tocsin.notify.types import DeliveryResult, Notification
from tocsin.storage import Store

CONFIG = """
route:
  receiver: team
  group_by: [alertname, venue]
  group_wait: {wait}
  group_interval: 5m
receivers: [{{name: team}}]
"""


class Null:
    kind = "null"
    send_resolved = True
    timeout = None

    def __init__(self) -> None:
        self.count = 0

    async def notify(self, n: Notification) -> DeliveryResult:
        self.count += 1
        return DeliveryResult(200)

    async def aclose(self) -> None:
        return None


def make(db: Path, wait: str) -> tuple[Dispatcher, Null, FakeClock]:
    clock = FakeClock()
    sink = Null()
    receivers = Receivers({"team": {"null[0]": sink}}, Retrier(clock, MemoryAttemptSink()))
    cfg = parse_alertmanager_config(CONFIG.format(wait=wait))
    return Dispatcher(cfg, Store(f"sqlite:///{db}", clock=clock), clock, receivers), sink, clock


async def intake(n: int, tmp: Path) -> Dispatcher:
    d, _, _ = make(tmp / "intake.db", "30s")
    await d.start()
    alerts = [
        Alert(labels={"alertname": "ZoneDown", "venue": f"v{i // 10}", "zone": f"z{i}"})
        for i in range(n)
    ]
    t = time.perf_counter()
    for i in range(0, n, 100):
        await d.put(alerts[i : i + 100])
    dt = time.perf_counter() - t
    print(f"intake: {n} alerts in {dt:.2f} s = {n / dt:,.0f} alerts/s ({len(d.groups)} groups)")
    return d


async def fanout(groups: int, tmp: Path) -> None:
    d, sink, _ = make(tmp / "fanout.db", "0s")
    await d.start()
    alerts = [Alert(labels={"alertname": "VenueDown", "venue": f"v{i}"}) for i in range(groups)]
    t = time.perf_counter()
    for i in range(0, groups, 1000):
        await d.put(alerts[i : i + 1000])
    while sink.count < groups:
        await d.settle(rounds=50)
        await asyncio.sleep(0)
    dt = time.perf_counter() - t
    print(
        f"fan-out: {groups} new groups notified in {dt:.2f} s = {groups / dt:,.0f} notifications/s"
    )
    await d.stop()


async def listing(d: Dispatcher) -> None:
    app = FastAPI()
    app.include_router(make_router(d))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://x") as c:
        for run in ("first", "second"):
            t = time.perf_counter()
            r = await c.get("/api/v2/alerts")
            dt = time.perf_counter() - t
            n = len(r.json())
            mb = len(r.content) / 1e6
            print(f"listing ({run}): GET /api/v2/alerts, {n} alerts, {mb:.1f} MB in {dt:.2f} s")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = await intake(args.alerts, Path(tmp))
        await listing(d)
        await d.stop()
        await fanout(args.groups, Path(tmp))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {rss:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
