"""tocsin's Alertmanager API next to a real Alertmanager, over HTTP on 127.0.0.1.

Both get the same route tree and the same load from this process, one phase
at a time (Alertmanager first, then tocsin), in this order:

1. ingest: N distinct alerts (default 100,000) in POSTs of 100 from 4
   concurrent clients, to a `null` receiver grouped by alertname and venue
   (group_wait 1h, so those groups never flush during the later phases);
   alerts/s and the server's RSS afterwards;
2. listing: `GET /api/v2/alerts` with the N alerts active;
3. latency: POST -> webhook arrival for a new group with `group_wait: 0s`,
   one alert with a unique group label per trial, trials alternating between
   the two systems; p50/p99 over 200 trials each;
4. fan-out: 10,000 alerts, each in its own new group (`group_wait: 0s`),
   POSTed like the ingest; notifications/s until every webhook call arrived.

The POST bodies are encoded with orjson before each phase's clock starts and
sent by aiohttp clients: the load generator shares the two cores with the
servers and must not be what limits them (with httpx encoding per request it
used about a core and capped both systems near 40,000 alerts/s).

One aiohttp webhook receiver in this process serves both, at
`/alertmanager` and `/tocsin`. tocsin runs in its own process like
Alertmanager: uvicorn serving the v2 router on a Dispatcher with an SQLite
file store and real receivers, with `tocsin run`'s GC tuning. Needs Debian's
`prometheus-alertmanager` on PATH. Every phase and the whole run are bounded.

A third system, `tocsin-floor`, is tocsin with parts switched off
(`--floor persistence,http`, see ablation.py): no SQLite writes, and a bare
httptools client instead of aiohttp. It is not a configuration anyone can
run; it shows what the rest of tocsin costs, so how far any work on those
parts could take it.

    .venv/bin/python bench/alerting_vs_alertmanager.py \
        [--alerts 100000] [--trials 200] [--groups 10000] \
        [--phases ingest,listing,latency,fanout] \
        [--systems alertmanager,tocsin[,tocsin-floor]] [--floor persistence,http]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import orjson
from ablation import PARTS
from aiohttp import web

CONFIG = """
route:
  receiver: "null"
  group_by: [alertname, venue]
  group_wait: 1h
  group_interval: 5m
  routes:
    - matchers: ['bench="notify"']
      receiver: hook
      group_by: [alertname, grp]
      group_wait: 0s
      group_interval: 5m
      repeat_interval: 4h
receivers:
  - name: "null"
  - name: hook
    webhook_configs:
      - url: "{hook}"
        send_resolved: false
"""

SYSTEMS = ("alertmanager", "tocsin", "tocsin-floor")
PHASES = ("ingest", "listing", "latency", "fanout")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int, db: str, config: str, switched_off: str = "") -> None:
    """The tocsin side: run in a child process, wired as `tocsin run` wires it
    (`tocsin-floor`: with the `--floor` parts switched off, see ablation.py)."""
    import uvicorn
    from fastapi import FastAPI
    from prometheus_client import CollectorRegistry

    from tocsin.alerting.config import load_alertmanager_config
    from tocsin.alerting.dispatcher import Dispatcher
    from tocsin.api.amapi import make_router
    from tocsin.clock import SystemClock
    from tocsin.runtime.alerting_setup import build_receivers, make_retrier
    from tocsin.runtime.gctune import tune_gc
    from tocsin.storage import Store

    if switched_off:
        from ablation import install

        install(switched_off.split(","))
    clock = SystemClock()
    cfg = load_alertmanager_config(config)
    store = Store(f"sqlite:///{db}", clock=clock)
    receivers = build_receivers(cfg, store, clock, make_retrier(clock, CollectorRegistry()))
    d = Dispatcher(cfg, store, clock, receivers=receivers)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await d.start()
        tune_gc()
        yield
        await d.stop()
        await receivers.aclose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(make_router(d))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far:
    less swayed by other load on the machine than the wall-clock rates."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


@dataclass
class Hooks:
    """Webhook arrivals by system: who waits for which group, and fan-out counts."""

    waiting: dict[tuple[str, str], asyncio.Future[float]] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SYSTEMS})
    target: dict[str, int] = field(default_factory=dict)
    done: dict[str, asyncio.Event] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SYSTEMS, 0))

    async def handle(self, request: web.Request) -> web.Response:
        now = time.perf_counter()
        system = request.match_info["system"]
        body = orjson.loads(await request.read())
        self.calls[system] += 1
        for alert in body["alerts"]:
            grp = alert["labels"].get("grp", "")
            fut = self.waiting.pop((system, grp), None)
            if fut is not None and not fut.done():
                fut.set_result(now)
            seen = self.seen[system]
            if grp not in seen:
                seen.add(grp)
                self.last[system] = now
                if len(seen) == self.target.get(system) and system in self.done:
                    self.done[system].set()
        return web.Response(text="ok")


def encode_batches(alerts: list[dict[str, object]], size: int = 100) -> list[bytes]:
    """The POST bodies, encoded before the clock starts: the load generator
    shares the machine's two cores with the server, and must not be what
    limits the rate (encoding with httpx's JSON took about a core)."""
    return [orjson.dumps(alerts[i : i + size]) for i in range(0, len(alerts), size)]


async def post_batches(url: str, bodies: list[bytes], clients: int = 4) -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Content-Type": "application/json"}

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(f"{url}/api/v2/alerts", data=body, headers=headers) as r:
                await r.read()
                r.raise_for_status()

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))


async def ingest(url: str, n: int) -> float:
    alerts: list[dict[str, object]] = [
        {"labels": {"alertname": "ZoneDown", "venue": f"v{i // 10}", "zone": f"z{i}"}}
        for i in range(n)
    ]
    bodies = encode_batches(alerts)
    t = time.perf_counter()
    await post_batches(url, bodies)
    return n / (time.perf_counter() - t)


async def listing(url: str) -> tuple[float, int]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        t = time.perf_counter()
        r = await c.get("/api/v2/alerts")
        dt = time.perf_counter() - t
    return dt, len(r.json())


def notify_alert(grp: str) -> dict[str, object]:
    return {"labels": {"alertname": "BenchNotify", "bench": "notify", "grp": grp}}


async def latency(
    urls: dict[str, str], hooks: Hooks, trials: int, trial_s: float, budget: float
) -> dict[str, list[float]]:
    """Trials alternate between systems so load swings on the machine hit both alike."""
    out: dict[str, list[float]] = {s: [] for s in urls}
    clients = {s: httpx.AsyncClient(base_url=u, timeout=trial_s) for s, u in urls.items()}
    loop = asyncio.get_running_loop()
    end = time.perf_counter() + budget
    try:
        for i in range(trials):
            for system, c in clients.items():
                if time.perf_counter() > end:
                    return out
                grp = f"lat{i}"
                fut: asyncio.Future[float] = loop.create_future()
                hooks.waiting[(system, grp)] = fut
                t = time.perf_counter()
                r = await c.post("/api/v2/alerts", json=[notify_alert(grp)])
                r.raise_for_status()
                try:
                    arrived = await asyncio.wait_for(fut, trial_s)
                except TimeoutError:
                    hooks.waiting.pop((system, grp), None)
                    out[system].append(float("inf"))
                    continue
                out[system].append(arrived - t)
    finally:
        for c in clients.values():
            await c.aclose()
    return out


async def fanout(
    system: str, url: str, hooks: Hooks, groups: int, bound_s: float
) -> tuple[float, int, float]:
    """(notifications/s, groups arrived, seconds) until all arrived or `bound_s` passed."""
    hooks.seen[system] = set()
    hooks.target[system] = groups
    hooks.done[system] = asyncio.Event()
    bodies = encode_batches([notify_alert(f"fan{i}") for i in range(groups)])
    t = time.perf_counter()
    await post_batches(url, bodies)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            hooks.done[system].wait(), max(0.0, t + bound_s - time.perf_counter())
        )
    arrived = len(hooks.seen[system])
    dt = (hooks.last.get(system, t) if arrived == groups else time.perf_counter()) - t
    return arrived / dt if dt > 0 else 0.0, arrived, dt


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q)) if xs else float("nan")


async def run(
    args: argparse.Namespace, urls: dict[str, str], pids: dict[str, int], hooks: Hooks
) -> None:
    phases = args.phases
    if "ingest" in phases or "listing" in phases:
        print(
            f"{'':14}{'ingest alerts/s':>16}{'CPU s':>7}{'RSS MB':>9}{'GET alerts s':>14}",
            flush=True,
        )
        for name, url in urls.items():
            cpu0 = cpu_s(pids[name])
            rate = await ingest(url, args.alerts) if "ingest" in phases else float("nan")
            cpu = cpu_s(pids[name]) - cpu0
            dt, count = await listing(url) if "listing" in phases else (float("nan"), 0)
            rss = rss_mb(pids[name])
            print(
                f"{name:14}{rate:>16,.0f}{cpu:>7.2f}{rss:>9.0f}{dt:>14.2f}   ({count} listed)",
                flush=True,
            )
    if "latency" in phases:
        cpu0s = {name: cpu_s(pids[name]) for name in urls}
        lat = await latency(urls, hooks, args.trials, args.trial_timeout, args.phase_budget)
        print(
            f"\n{'':14}{'trials':>7}{'lost':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'CPU s':>7}"
        )
        for name, xs in lat.items():
            ok = [x * 1000 for x in xs if x != float("inf")]
            lost = len(xs) - len(ok)
            cpu = cpu_s(pids[name]) - cpu0s[name]
            print(
                f"{name:14}{len(xs):>7}{lost:>6}{pct(ok, 50):>9.1f}{pct(ok, 99):>9.1f}"
                f"{max(ok, default=float('nan')):>9.1f}{cpu:>7.2f}",
                flush=True,
            )
    if "fanout" in phases:
        print(
            f"\n{'':14}{'groups':>8}{'arrived':>9}{'seconds':>9}{'notif/s':>9}"
            f"{'calls':>7}{'CPU s':>7}{'RSS MB':>8}"
        )
        for name, url in urls.items():
            calls0 = hooks.calls[name]
            cpu0 = cpu_s(pids[name])
            rate, arrived, dt = await fanout(name, url, hooks, args.groups, args.phase_budget)
            calls = hooks.calls[name] - calls0
            cpu = cpu_s(pids[name]) - cpu0
            rss = rss_mb(pids[name])
            print(
                f"{name:14}{args.groups:>8}{arrived:>9}{dt:>9.2f}{rate:>9,.0f}{calls:>7}"
                f"{cpu:>7.2f}{rss:>8.0f}",
                flush=True,
            )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=100_000, help="ingest/listing size")
    ap.add_argument("--trials", type=int, default=200, help="latency trials per system")
    ap.add_argument("--groups", type=int, default=10_000, help="fan-out groups")
    ap.add_argument("--phases", type=lambda s: s.split(","), default=list(PHASES))
    ap.add_argument("--systems", type=lambda s: s.split(","), default=["alertmanager", "tocsin"])
    ap.add_argument(
        "--floor",
        type=lambda s: s.split(","),
        default=list(PARTS),
        help="parts switched off in the tocsin-floor system (default: all of "
        + ", ".join(PARTS)
        + ")",
    )
    ap.add_argument("--trial-timeout", type=float, default=5.0, help="seconds per latency trial")
    ap.add_argument("--phase-budget", type=float, default=90.0, help="seconds for latency, fan-out")
    ap.add_argument("--budget", type=float, default=330.0, help="seconds for the whole run")
    args = ap.parse_args()
    known = (PHASES, SYSTEMS, PARTS)
    given = (args.phases, args.systems, args.floor)
    if bad := set().union(*(set(g) - set(k) for g, k in zip(given, known, strict=True))):
        sys.exit(f"unknown phase or system: {', '.join(sorted(bad))}")
    am = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if am is None:
        sys.exit("needs prometheus-alertmanager on PATH")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    hooks = Hooks()
    hook_app = web.Application()
    hook_app.router.add_post("/{system}", hooks.handle)
    runner = web.AppRunner(hook_app, access_log=None)
    await runner.setup()
    hook_port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", hook_port, backlog=4096)
    await site.start()
    procs: dict[str, asyncio.subprocess.Process] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = {}
        for s in SYSTEMS:
            cfgs[s] = Path(tmp) / f"{s}.yml"
            cfgs[s].write_text(CONFIG.replace("{hook}", f"http://127.0.0.1:{hook_port}/{s}"))
        ports = {s: free_port() for s in SYSTEMS}
        while len({hook_port, *ports.values()}) < len(SYSTEMS) + 1:
            ports = {s: free_port() for s in SYSTEMS}
        am_log = Path(tmp) / "alertmanager.log"
        try:
            if "alertmanager" in args.systems:
                procs["alertmanager"] = await asyncio.create_subprocess_exec(
                    am,
                    f"--config.file={cfgs['alertmanager']}",
                    f"--storage.path={tmp}/am",
                    f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                    "--cluster.listen-address=",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=am_log.open("wb"),
                )
            for name in ("tocsin", "tocsin-floor"):
                if name not in args.systems:
                    continue
                off = ",".join(args.floor) if name == "tocsin-floor" else ""
                here = Path(__file__).parent
                procs[name] = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "serve",
                    str(ports[name]),
                    f"{tmp}/{name}.db",
                    str(cfgs[name]),
                    off,
                    env={**os.environ, "PYTHONPATH": f"{here.parent / 'src'}{os.pathsep}{here}"},
                )
            urls = {s: f"http://127.0.0.1:{ports[s]}" for s in procs}
            for url in urls.values():
                await wait_ready(url)
            try:
                async with asyncio.timeout(args.budget):
                    await run(args, urls, {s: p.pid for s, p in procs.items()}, hooks)
            except TimeoutError:
                print(f"\nstopped: the whole run exceeded --budget {args.budget:.0f} s")
        finally:
            for name, p in procs.items():
                if p.returncode is not None:
                    print(f"{name} exited early with status {p.returncode}")
                    if name == "alertmanager":
                        print(am_log.read_text()[-3000:])
            for p in procs.values():
                if p.returncode is None:
                    p.terminate()
                try:
                    await asyncio.wait_for(p.wait(), 10)
                except TimeoutError:
                    p.kill()
                    await p.wait()
            await runner.cleanup()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        asyncio.run(main())
