"""tocsin and a real Prometheus side by side on the same 100,000 zone_up series.

One exporter (aiohttp, child process) serves the fleet as Prometheus text
exposition on 127.0.0.1. A real Prometheus (Debian's /usr/bin/prometheus)
scrapes it and evaluates the fleet rules from a rule file; a tocsin child
process scrapes it with tocsin's own ScrapeLoop into an in-memory TSDB and
serves tocsin's Prometheus query API with uvicorn. The parent then measures,
interleaving the two servers request by request:

- HTTP instant-query latency of each query on both (`/api/v1/query`, the path
  Grafana uses), body fully read, same client;
- tocsin's in-process `Engine.instant_query` time (measured in its child
  before it serves HTTP, so nothing else runs in that process);
- Prometheus's own rule-evaluation time per rule (`evaluationTime` of
  `/api/v1/rules`, sampled at every evaluation) against tocsin's in-process time;
- RSS of both processes, tocsin's head bytes per series, tocsin's ingest
  rate (append_batch / append_refs) and scrape cost, and the PromQL
  conformance pass rate of `tocsin test promql`.

Fleet shape: 20,000 venues x 5 zones (a shop or restaurant has a handful of
zones), importance per venue (5% flagship, 25% standard, 70% low). 300 zones
are at 0: 40 venues entirely down (200 zones, what `>= 2` is for) and 100
single zones scattered over other venues.

Usage: .venv/bin/python bench/promql_vs_prometheus.py [--venues 20000]
       [--zones-per-venue 5] [--runs 30]
Needs /usr/bin/prometheus (Debian package `prometheus`). Bounded to ~5 min.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from glob import glob
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

QUERIES = [
    "zone_up == 0",
    "count by (venue) (zone_up == 0) >= 2",
    "sum by (venue) (zone_up)",
    "sum(zone_up) / count(zone_up)",
    "count by (venue) (zone_up == 0)",
]
RULES = QUERIES[:4]
"""The four fleet rules of the design target; the fifth query is the dashboard one."""

RULE_FILE = """groups:
  - name: fleet
    interval: {interval}s
    rules:
      - alert: ZoneDown
        expr: zone_up == 0
      - alert: VenueZonesDown
        expr: count by (venue) (zone_up == 0) >= 2
      - record: venue:zone_up:sum
        expr: sum by (venue) (zone_up)
      - record: fleet:zone_up:ratio
        expr: sum(zone_up) / count(zone_up)
"""
HARD_LIMIT_S = 290


@dataclass
class Shape:
    venues: int
    zones_per_venue: int
    down_venues: int = 40
    down_single: int = 100
    down: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        rng = random.Random(7)
        z = self.zones_per_venue
        whole = rng.sample(range(self.venues), self.down_venues)
        for v in whole:
            self.down.update(range(v * z, (v + 1) * z))
        others = sorted(set(range(self.venues)) - set(whole))
        for v in rng.sample(others, self.down_single):
            self.down.add(v * z + rng.randrange(z))

    @property
    def series(self) -> int:
        return self.venues * self.zones_per_venue


def exposition(shape: Shape) -> bytes:
    lines = ["# HELP zone_up Whether the zone's player answers.", "# TYPE zone_up gauge"]
    z = shape.zones_per_venue
    for v in range(shape.venues):
        h = (v * 2654435761) % 100
        imp = "flagship" if h < 5 else "standard" if h < 30 else "low"
        for k in range(z):
            i = v * z + k
            val = 0 if i in shape.down else 1
            lines.append(
                f'zone_up{{venue="venue-{v:05d}",zone="zone-{i:06d}",importance="{imp}"}} {val}'
            )
    return ("\n".join(lines) + "\n").encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(rest.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def stats(xs: list[float]) -> tuple[float, float]:
    """(median, p90)."""
    if len(xs) < 2:
        return (xs[0], xs[0]) if xs else (float("nan"), float("nan"))
    return statistics.median(xs), statistics.quantiles(xs, n=10, method="inclusive")[8]


def wait_http(url: str, deadline: float, ok_below: int = 500) -> None:
    with httpx.Client(timeout=2) as c:
        while time.time() < deadline:
            try:
                if c.get(url).status_code < ok_below:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in time")


# -- exporter child -----------------------------------------------------------------


def run_exporter(shape: Shape, port: int) -> None:
    from aiohttp import web

    body = exposition(shape)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- tocsin child -------------------------------------------------------------------


def run_tocsin(target: str, port: int, scrapes: int, runs: int, conn: Connection) -> None:
    """Scrape, time the engine in process, report, then serve the query API."""
    import aiohttp
    import uvicorn
    from fastapi import FastAPI

    from tocsin.api.promapi import make_router
    from tocsin.clock import SystemClock
    from tocsin.promql.engine import Engine
    from tocsin.promql.values import MatrixResult, VectorResult
    from tocsin.tsdb.config import ScrapeConfig
    from tocsin.tsdb.db import TSDB
    from tocsin.tsdb.scrape import ScrapeLoop

    gc.collect()
    rss_base = rss_mb(os.getpid())[0]
    tsdb = TSDB(None).open()
    cfg = ScrapeConfig.model_validate(
        {"job_name": "zones", "scrape_interval": "15s", "static_configs": [{"targets": [target]}]}
    )
    scrape_s: list[float] = []

    async def scrape_all() -> None:
        async with aiohttp.ClientSession() as session:
            loop = ScrapeLoop(cfg, target, {}, tsdb, session, SystemClock(), spread=False)
            for _ in range(scrapes):
                t0 = time.perf_counter()
                ok = await loop.scrape_once()
                scrape_s.append(time.perf_counter() - t0)
                if not ok:
                    raise RuntimeError(f"tocsin scrape failed: {loop.health.last_error}")
                await asyncio.sleep(0.05)

    asyncio.run(scrape_all())
    gc.collect()
    rss_data = rss_mb(os.getpid())[0]
    st = tsdb.stats()
    conn.send("scraped")
    conn.recv()  # the parent says when Prometheus is ready too, so both are timed alike
    engine = Engine()
    t = time.time()
    inproc: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for q in QUERIES:
        res = engine.instant_query(tsdb, q, t)  # warm-up
        sizes[q] = len(res) if isinstance(res, VectorResult | MatrixResult) else 1
        for _ in range(runs):
            t0 = time.perf_counter()
            engine.instant_query(tsdb, q, t)
            inproc.setdefault(q, []).append((time.perf_counter() - t0) * 1000)
    conn.send(
        {
            "rss_base": rss_base,
            "rss_data": rss_data,
            "rss_after_queries": rss_mb(os.getpid())[0],
            "series": st.series,
            "head_samples": st.head_samples,
            "head_bytes": st.head_bytes,
            "scrape_s": scrape_s,
            "inproc": inproc,
            "sizes": sizes,
        }
    )
    app = FastAPI()
    app.include_router(make_router(tsdb, engine))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- parent: measurements -----------------------------------------------------------


def recv_from(conn: Connection, child: Any, timeout: float, what: str) -> Any:
    """The child's next message; fails at once if the child died."""
    end = time.time() + timeout
    while time.time() < end:
        if conn.poll(0.5):
            return conn.recv()
        if not child.is_alive():
            raise RuntimeError(f"tocsin child died (exit code {child.exitcode}) {what}")
    raise TimeoutError(f"tocsin child too slow {what}")


def result_size(body: dict[str, Any]) -> int:
    data = body["data"]
    return len(data["result"]) if data["resultType"] == "vector" else 1


def http_latencies(
    prom: str, toc: str, runs: int, budget_s: float
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, tuple[int, int]]]:
    """Per query, interleaved requests to both servers; ms until the body is read.

    A query stops after `budget_s` seconds if it has at least 10 runs, which
    keeps the whole benchmark bounded when the machine is busy.
    """
    p_ms: dict[str, list[float]] = {}
    t_ms: dict[str, list[float]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    t_eval = f"{time.time():.3f}"
    with httpx.Client(timeout=60) as c:
        for q in QUERIES:
            params = {"query": q, "time": t_eval}
            bodies = []
            for base in (prom, toc):  # warm-up, and the result sizes to compare
                r = c.get(f"{base}/api/v1/query", params=params)
                r.raise_for_status()
                bodies.append(r.json())
            sizes[q] = (result_size(bodies[0]), result_size(bodies[1]))
            q_end = time.time() + budget_s
            for i in range(runs):
                if i >= 10 and time.time() > q_end:
                    break
                order = ((prom, p_ms), (toc, t_ms)) if i % 2 == 0 else ((toc, t_ms), (prom, p_ms))
                for base, sink in order:
                    t0 = time.perf_counter()
                    r = c.get(f"{base}/api/v1/query", params=params)
                    _ = r.content
                    sink.setdefault(q, []).append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        raise RuntimeError(f"{base} answered {r.status_code}: {r.text[:300]}")
    return p_ms, t_ms, sizes


def prom_rule_times(prom: str, seconds: float, interval: float) -> dict[str, list[float]]:
    """Prometheus's per-rule evaluationTime (ms), one sample per distinct evaluation."""
    seen: set[tuple[str, str]] = set()
    out: dict[str, list[float]] = {}
    end = time.time() + seconds
    with httpx.Client(timeout=10) as c:
        while True:
            groups = c.get(f"{prom}/api/v1/rules").json()["data"]["groups"]
            for g in groups:
                for r in g["rules"]:
                    key = (r["query"], r["lastEvaluation"])
                    if r.get("health") == "ok" and key not in seen and r["evaluationTime"] > 0:
                        seen.add(key)
                        out.setdefault(r["query"], []).append(r["evaluationTime"] * 1000)
            if time.time() >= end:
                return out
            time.sleep(interval / 2)


def prom_self_metrics(prom: str) -> dict[str, float]:
    """A few of Prometheus's own metrics from its /metrics (it does not scrape itself here)."""
    wanted = {
        "prometheus_tsdb_head_series": "head_series",
        "go_memstats_heap_inuse_bytes": "heap_inuse",
        'prometheus_rule_evaluation_duration_seconds{quantile="0.5"}': "rule_eval_p50",
        'prometheus_rule_evaluation_duration_seconds{quantile="0.9"}': "rule_eval_p90",
        "prometheus_rule_evaluation_duration_seconds_count": "rule_evals",
    }
    out: dict[str, float] = {}
    for line in httpx.get(f"{prom}/metrics", timeout=30).text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            out[wanted[name]] = float(value)
    return out


def prom_scalar(c: httpx.Client, prom: str, q: str) -> float | None:
    res = c.get(f"{prom}/api/v1/query", params={"query": q}).json()["data"]["result"]
    return float(res[0]["value"][1]) if res else None


def wait_prom_scrapes(prom: str, series: int, deadline: float) -> None:
    """Until every zone_up series has at least two samples in Prometheus."""
    q = "count(count_over_time(zone_up[5m]) >= 2)"
    with httpx.Client(timeout=30) as c:
        while time.time() < deadline:
            got = prom_scalar(c, prom, q)
            if got is not None and got >= series:
                return
            time.sleep(1)
    raise TimeoutError("Prometheus did not scrape the exporter twice in time")


def ingest_rate(series: int, timestamps: int) -> dict[str, float]:
    """Samples/s of TSDB.append_batch (labels each time) and append_refs (the scraper's path)."""
    import numpy as np

    from tocsin.tsdb.db import TSDB

    labels = [
        {"__name__": "zone_up", "venue": f"venue-{i // 5:05d}", "zone": f"zone-{i:06d}"}
        for i in range(series)
    ]
    values = np.ones(series)
    base = int(time.time() * 1000)
    tsdb = TSDB(None).open()
    t0 = time.perf_counter()
    tsdb.append_batch(labels, base, values)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(1, timestamps):
        tsdb.append_batch(labels, base + k * 15_000, values)
    batch = time.perf_counter() - t0
    refs = tsdb.refs(labels)
    t0 = time.perf_counter()
    for k in range(timestamps, 2 * timestamps):
        tsdb.append_refs(refs, base + k * 15_000, values)
    by_ref = time.perf_counter() - t0
    n = series * (timestamps - 1)
    return {
        "first_batch_s": first,
        "append_batch_sps": n / batch,
        "append_refs_sps": series * timestamps / by_ref,
    }


def conformance() -> str:
    files = sorted(glob("/work/shared/conformance/promqltest/*.test"))
    if not files:
        return "no conformance files found"
    proc = subprocess.run(
        [sys.executable, "-m", "tocsin", "test", "promql", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [ln for ln in (proc.stdout + proc.stderr).strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    m = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped", last)
    if not m:
        return f"unparsed: {last!r}"
    p, f, s = (int(x) for x in m.groups())
    return (
        f"{p} passed, {f} failed, {s} skipped: {100 * p / (p + f):.1f}% of the run cases "
        f"({100 * p / (p + f + s):.1f}% of all)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--venues", type=int, default=20_000)
    ap.add_argument("--zones-per-venue", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--scrape-interval", type=int, default=15)
    ap.add_argument("--rule-interval", type=int, default=5)
    ap.add_argument("--rule-window", type=float, default=50.0, help="seconds of rule sampling")
    ap.add_argument("--query-budget", type=float, default=20.0, help="seconds per query at most")
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    args = ap.parse_args()
    prom_bin = shutil.which(args.prometheus)
    if prom_bin is None:
        sys.exit(f"{args.prometheus} not found (Debian package `prometheus`)")

    def _alarm(_sig: int, _frame: Any) -> None:
        raise TimeoutError(f"benchmark exceeded {HARD_LIMIT_S}s")

    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HARD_LIMIT_S)
    started = time.time()
    shape = Shape(args.venues, args.zones_per_venue)
    load_before = os.getloadavg()
    ctx = mp.get_context("spawn")
    exp_port, toc_port, prom_port = free_port(), free_port(), free_port()
    target = f"127.0.0.1:{exp_port}"
    print(f"ports: exporter {exp_port}, tocsin {toc_port}, prometheus {prom_port}", file=sys.stderr)
    children: list[Any] = []
    prom_proc: subprocess.Popen[bytes] | None = None
    tmp = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    try:
        exporter = ctx.Process(target=run_exporter, args=(shape, exp_port), daemon=True)
        exporter.start()
        children.append(exporter)
        wait_http(f"http://{target}/metrics", time.time() + 60)

        (tmp / "rules.yml").write_text(RULE_FILE.format(interval=args.rule_interval))
        prom_cfg = (
            f"global:\n  scrape_interval: {args.scrape_interval}s\n"
            f"  scrape_timeout: {args.scrape_interval}s\n"
            f"  evaluation_interval: {args.rule_interval}s\n"
            "scrape_configs:\n  - job_name: zones\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        # The rules are loaded (SIGHUP) only after the query phase, so that their
        # evaluation does not compete with the queries being timed.
        (tmp / "prometheus.yml").write_text(prom_cfg)
        prom_log = (tmp / "prometheus.log").open("wb")
        prom_proc = subprocess.Popen(
            [
                prom_bin,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=prom_log,
        )
        prom = f"http://127.0.0.1:{prom_port}"

        parent_conn, child_conn = ctx.Pipe()
        tocsin = ctx.Process(
            target=run_tocsin, args=(target, toc_port, 3, args.runs, child_conn), daemon=True
        )
        tocsin.start()
        children.append(tocsin)
        toc = f"http://127.0.0.1:{toc_port}"

        recv_from(parent_conn, tocsin, 120, "while scraping")
        wait_http(f"{prom}/-/ready", time.time() + 60, ok_below=300)
        wait_prom_scrapes(prom, shape.series, time.time() + 60)
        parent_conn.send("go")
        tres: dict[str, Any] = recv_from(parent_conn, tocsin, 60, "timing in process")
        wait_http(f"{toc}/api/v1/status/buildinfo", time.time() + 30)

        p_http, t_http, sizes = http_latencies(prom, toc, args.runs, args.query_budget)
        rss_after_queries = rss_mb(prom_proc.pid)
        (tmp / "prometheus.yml").write_text(prom_cfg + "rule_files: [rules.yml]\n")
        prom_proc.send_signal(signal.SIGHUP)
        try:
            rule_ms = prom_rule_times(prom, args.rule_window, args.rule_interval)
        except httpx.TransportError:
            if prom_proc.poll() is not None:
                raise RuntimeError(
                    f"Prometheus exited (code {prom_proc.returncode}) during the rule phase; "
                    "its log says whether it got a signal from outside"
                ) from None
            raise
        prom_self = prom_self_metrics(prom)
        with httpx.Client(timeout=30) as c:
            prom_scrape_s = prom_scalar(c, prom, 'scrape_duration_seconds{job="zones"}')
            prom_version = c.get(f"{prom}/api/v1/status/buildinfo").json()["data"]["version"]
        prom_rss = rss_mb(prom_proc.pid)
        toc_rss = rss_mb(tocsin.pid or 0)
        load_after = os.getloadavg()
    except BaseException:
        log = tmp / "prometheus.log"
        if log.exists():
            sys.stderr.write(log.read_text(errors="replace")[-2000:])
        raise
    finally:
        signal.alarm(0)
        for ch in children:
            if ch.is_alive():
                ch.terminate()
                ch.join(10)
                if ch.is_alive():
                    ch.kill()
        if prom_proc is not None:
            prom_proc.terminate()
            try:
                prom_proc.wait(20)
            except subprocess.TimeoutExpired:
                prom_proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    ingest = ingest_rate(shape.series, 6)
    conf = conformance()

    n_series = shape.series
    print(
        f"\n{n_series} series ({args.venues} venues x {args.zones_per_venue} zones), "
        f"{len(shape.down)} at 0; {args.runs} runs per query; Prometheus {prom_version}; "
        f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; wall {time.time() - started:.0f}s\n"
    )
    print("Instant queries, ms (median / p90)\n")
    print(
        "| query | results P / t | runs | Prometheus HTTP | tocsin HTTP | tocsin in-process "
        "| P/t HTTP | P HTTP / t in-process |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for q in QUERIES:
        n = min(len(p_http[q]), len(t_http[q]))
        pm, p9 = stats(p_http[q])
        tm, t9 = stats(t_http[q])
        im, i9 = stats(tres["inproc"][q])
        ps, ts = sizes[q]
        print(
            f"| `{q}` | {ps} / {ts} | {n} | {pm:.1f} / {p9:.1f} | {tm:.1f} / {t9:.1f} "
            f"| {im:.1f} / {i9:.1f} | {pm / tm:.2f}x | {pm / im:.2f}x |"
        )
    print(
        f"\nRule evaluation, ms (median / p90): Prometheus `evaluationTime` from /api/v1/rules "
        f"(every {args.rule_interval}s for {args.rule_window:.0f}s, includes writing the "
        "rule's output) vs tocsin `Engine.instant_query` in process\n"
    )
    print("| rule | Prometheus (n) | tocsin in-process | Prometheus / tocsin | >= 10x |")
    print("|---|---|---|---|---|")
    for q in RULES:
        samples = rule_ms.get(q, [])
        pm, p9 = stats(samples)
        im, i9 = stats(tres["inproc"][q])
        ratio = pm / im
        print(
            f"| `{q}` | {pm:.1f} / {p9:.1f} ({len(samples)}) | {im:.1f} / {i9:.1f} "
            f"| {ratio:.2f}x | {'yes' if ratio >= 10 else 'no'} |"
        )
    sc = tres["scrape_s"]
    per_series = tres["head_bytes"] / max(tres["series"], 1)
    print("\nMemory, ingest, conformance\n")
    print("| figure | Prometheus | tocsin |")
    print("|---|---|---|")
    print(
        f"| RSS at end, MiB (peak) | {prom_rss[0]:.0f} ({prom_rss[1]:.0f}) "
        f"| {toc_rss[0]:.0f} ({toc_rss[1]:.0f}) |"
    )
    print(
        f"| RSS before data (after imports), MiB | - | {tres['rss_base']:.0f} |\n"
        f"| RSS growth for the data (3 scrapes), MiB | - "
        f"| {tres['rss_data'] - tres['rss_base']:.0f} |"
    )
    print(
        f"| RSS after the query phase (before rules), MiB | {rss_after_queries[0]:.0f} | - |\n"
        f"| head series | {prom_self.get('head_series', float('nan')):.0f} "
        f"| {tres['series']} |\n"
        f"| Go heap in use, MiB | {prom_self.get('heap_inuse', float('nan')) / 2**20:.0f} | - |\n"
        f"| tocsin head bytes (samples) / series | - | {per_series:.0f} "
        f"({tres['head_samples']} samples) |"
    )
    print(
        f"| scrape of 100k series, s | {prom_scrape_s or float('nan'):.2f} "
        f"| first {sc[0]:.2f}, then {statistics.median(sc[1:]):.2f} |"
    )
    print(
        f"| ingest, samples/s | - | append_batch {ingest['append_batch_sps']:,.0f}; "
        f"append_refs {ingest['append_refs_sps']:,.0f}; first batch (new series) "
        f"{ingest['first_batch_s']:.2f}s |"
    )
    print(
        "| rule evaluation, all rules (prometheus_rule_evaluation_duration_seconds "
        f"p50 / p90, {prom_self.get('rule_evals', 0):.0f} evaluations), ms "
        f"| {1000 * prom_self.get('rule_eval_p50', float('nan')):.1f} / "
        f"{1000 * prom_self.get('rule_eval_p90', float('nan')):.1f} | - |"
    )
    print(f"| PromQL conformance (`tocsin test promql`) | - | {conf} |")


if __name__ == "__main__":
    main()
