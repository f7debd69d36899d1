"""The fleet rules in tocsin and in a real Prometheus, on the same data.

The same 100,000 zone_up series (venue/zone/importance labels, a few hundred
at 0) are loaded into tocsin's MemStore and into a Prometheus started on
127.0.0.1, either by scraping a local exporter (default: data in
Prometheus' in-memory head, as for rule evaluation) or, with --blocks,
through `promtool tsdb create-blocks-from openmetrics` (data in persisted
blocks). Each rule is evaluated as an instant query; for Prometheus the
figure is its own `evalTotalTime` from `stats=all` (no HTTP or JSON cost), for
tocsin the engine's wall time.

Usage: .venv/bin/python bench/promql_vs_prometheus.py [--series 100000] [--runs 30]
Needs `prometheus` and `promtool` on PATH (Debian package `prometheus`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from promql_rules import RULES, build  # run as a script: bench/ is on sys.path

from tocsin.promql import Engine


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def exposition(series: int, down: int) -> bytes:
    import random

    rng = random.Random(1)
    down_ids = set(rng.sample(range(series), down))
    lines = ["# TYPE zone_up gauge"]
    for i in range(series):
        v = 0 if i in down_ids else 1
        lines.append(
            f'zone_up{{venue="venue-{i // 50:05d}",zone="zone-{i:06d}",'
            f'importance="{("flagship", "standard", "backoffice")[i % 3]}"}} {v}'
        )
    return ("\n".join(lines) + "\n").encode()


def start_exporter(body: bytes) -> tuple[Any, str]:
    """Serve `body` as /metrics on 127.0.0.1 from a thread."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


def wait_for_scrapes(client: httpx.Client, url: str, series: int) -> float:
    """Wait until Prometheus holds a few scrapes of every series; return a query time."""
    deadline = time.time() + 300
    while time.time() < deadline:
        t = time.time()
        q = {"query": "count(count_over_time(zone_up[1m]) >= 3)", "time": str(t)}
        res = client.get(f"{url}/api/v1/query", params=q).json()["data"]["result"]
        if res and int(float(res[0]["value"][1])) >= series:
            return t
        time.sleep(2)
    raise SystemExit("Prometheus did not scrape the exporter in time")


def write_openmetrics(path: Path, series: int, down: int, samples: int, base_s: int) -> None:
    import random

    rng = random.Random(1)
    down_ids = set(rng.sample(range(series), down))
    with path.open("w") as f:
        f.write("# TYPE zone_up gauge\n")
        for i in range(series):
            lbl = (
                f'venue="venue-{i // 50:05d}",zone="zone-{i:06d}",'
                f'importance="{("flagship", "standard", "backoffice")[i % 3]}"'
            )
            for k in range(samples):
                v = 0 if (i in down_ids and k == samples - 1) else 1
                f.write(f"zone_up{{{lbl}}} {v} {base_s + k * 15}\n")
        f.write("# EOF\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--down", type=int, default=300)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--blocks", action="store_true", help="load Prometheus via promtool blocks")
    args = ap.parse_args()
    prom, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prom or not promtool:
        sys.exit("needs prometheus and promtool on PATH")
    base_s = (int(time.time()) // 3600 - 3) * 3600  # inside one 2h block, recent
    t_eval = base_s + (args.samples - 1) * 15

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        data = tmpdir / "data"
        cfg = tmpdir / "prometheus.yml"
        exporter = None
        if args.blocks:
            om = tmpdir / "data.om"
            write_openmetrics(om, args.series, args.down, args.samples, base_s)
            subprocess.run(
                [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(om), str(data)],
                check=True,
            )
            cfg.write_text("global:\n  scrape_interval: 1h\n")
        else:
            exporter, target = start_exporter(exposition(args.series, args.down))
            cfg.write_text(
                "global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\n"
                f"scrape_configs:\n  - job_name: zones\n    static_configs:\n"
                f"      - targets: ['{target}']\n"
            )
        port = free_port()
        proc = subprocess.Popen(
            [
                prom,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={data}",
                "--storage.tsdb.retention.time=10y",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmpdir / "prometheus.log").open("w"),
        )
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(timeout=60) as client:
                for _ in range(120):
                    try:
                        if client.get(f"{url}/-/ready").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.5)
                if not args.blocks:
                    t_eval = wait_for_scrapes(client, url, args.series)
                prom_ms: dict[str, list[float]] = {}
                for rule in RULES:
                    params = {"query": rule, "time": str(t_eval), "stats": "all"}
                    client.get(f"{url}/api/v1/query", params=params)  # warm up
                    for _ in range(args.runs):
                        body = client.get(f"{url}/api/v1/query", params=params).json()
                        timing = body["data"]["stats"]["timings"]["evalTotalTime"]
                        prom_ms.setdefault(rule, []).append(timing * 1000)
        except Exception:
            sys.stderr.write((tmpdir / "prometheus.log").read_text()[-3000:])
            raise
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if exporter is not None:
                exporter.shutdown()

    store = build(args.series, args.down, args.samples)
    engine = Engine()
    t_local = (args.samples - 1) * 15.0
    engine.instant_query(store, "count(zone_up)", t_local)
    print(f"{args.series} series; median ms per evaluation over {args.runs} runs")
    print(f"{'rule':45s} {'prometheus':>11s} {'tocsin':>8s} {'speed-up':>9s}")
    for rule in RULES:
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            engine.instant_query(store, rule, t_local)
            times.append((time.perf_counter() - start) * 1000)
        p, t = statistics.median(prom_ms[rule]), statistics.median(times)
        print(f"{rule:45s} {p:11.2f} {t:8.2f} {p / t:8.1f}x")


if __name__ == "__main__":
    main()
