"""Notification fan-out: how fast does notify deliver when many groups open at once?

Starts a webhook sink (aiohttp, in a child process so its CPU is not charged
to tocsin) on 127.0.0.1, builds one receiver with a webhook integration, and
delivers N notifications (one per group, 3 alerts each) concurrently through
the Retrier with the metrics sink, as the dispatcher does when N groups
flush together. Also times building the request bodies alone. The
integrations send through the receivers set's one aiohttp session.

    .venv/bin/python bench/notify_fanout.py [--groups 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import socket
import statistics
import time

from aiohttp import web
from prometheus_client import CollectorRegistry

from tocsin.clock import SystemClock
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.dispatch import Receivers
from tocsin.notify.retry import MemoryAttemptSink, Retrier
from tocsin.notify.sinks import MetricsSink, MultiSink
from tocsin.notify.slack import SlackConfig, SlackMessage
from tocsin.notify.types import Notification, NotifyAlert
from tocsin.notify.webhook import webhook_payload


def _serve(port: int) -> None:
    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/hook", hook)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


IN_FLIGHT = 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notification(i: int) -> Notification:
    alerts = tuple(
        NotifyAlert(
            labels={"alertname": "ZoneDown", "venue": f"v{i}", "zone": f"z{j}"},
            annotations={"summary": f"zone z{j} of venue v{i} is offline"},
            starts_at=1_700_000_000.0 + j,
            fingerprint=f"{i:08x}{j:08x}",
        )
        for j in range(3)
    )
    return Notification(
        receiver="venue-it",
        group_key=f'{{}}:{{venue="v{i}"}}',
        alerts=alerts,
        group_labels={"venue": f"v{i}"},
        common_labels={"alertname": "ZoneDown", "venue": f"v{i}"},
        external_url="http://tocsin.local",
    )


def _render(text: str, n: Notification) -> str:
    return text  # template cost belongs to the templating module's benchmark


async def _wait_for(port: int) -> None:
    for _ in range(200):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise SystemExit("sink did not start")


async def main(groups: int) -> None:
    notes = [_notification(i) for i in range(groups)]

    t = time.perf_counter()
    for n in notes:
        webhook_payload(n)
    build_webhook = time.perf_counter() - t
    msg = SlackMessage(SlackConfig(), _render)
    t = time.perf_counter()
    for n in notes:
        msg.build(n)
    build_slack = time.perf_counter() - t

    port = _free_port()
    proc = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    proc.start()
    try:
        await _wait_for(port)
        clock = SystemClock()
        deps = IntegrationDeps(render=_render, clock=clock)
        registry = CollectorRegistry()
        attempts = MemoryAttemptSink()
        receivers = Receivers.build(
            [{"name": "venue-it", "webhook_configs": [{"url": f"http://127.0.0.1:{port}/hook"}]}],
            deps,
            Retrier(clock, MultiSink(MetricsSink(registry), attempts), max_in_flight=IN_FLIGHT),
        )
        latencies: list[float] = []

        async def one(n: Notification) -> bool:
            start = time.perf_counter()
            [out] = await receivers.notify(n, clock.now() + 300)
            latencies.append(time.perf_counter() - start)
            return out.ok

        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        results = await asyncio.gather(*(one(n) for n in notes))
        wall = time.perf_counter() - t
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        await receivers.aclose()
    finally:
        proc.terminate()
        proc.join()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    latencies.sort()
    failed = [a for a in attempts.attempts if not a.ok]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine load average (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    print(f"groups: {groups}, delivered ok: {sum(results)}, attempts: {len(attempts.attempts)}")
    if failed:
        print(f"failed attempts: {len(failed)}, e.g. {failed[0].error}")
    print(f"webhook fan-out: {groups / wall:,.0f} notifications/s ({wall:.2f} s wall, "
          f"{cpu:.2f} s CPU, {cpu / groups * 1e6:.0f} us CPU per notification)")  # fmt: skip
    print(f"latency from flush to delivered: p50 {statistics.median(latencies):.2f} s, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.2f} s")  # fmt: skip
    print(f"build webhook payload: {build_webhook / groups * 1e6:.1f} us per notification")
    print(f"build Slack message:   {build_slack / groups * 1e6:.1f} us per notification")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.groups))
