"""The whole fleet pipeline at scale, and how trustworthy its state is.

Part 1, `sweep` (real time): the fleet simulator runs as a child process on
127.0.0.1 (its CPU is not counted); in this process an http_json source, the
detector and the target-series writer (into an in-memory tsdb) sweep 10,000
and 100,000 zones. Prints wall and CPU seconds per sweep, API calls per
sweep, and RSS growth per zone. Each configuration (zones, gc settings) runs
in a fresh process, so its RSS growth cannot reuse memory an earlier one freed.
With `--trace`, the same sweeps run under tracemalloc instead (slower; its
CPU figures are not comparable) and print the bytes per zone still held
after them, by stage (the module that allocated them), and the traced peak
during the cold sweep.

Part 2, `quality` (virtual time): the simulator runs in-process on a
FakeClock with a scenario of outages (blips and real ones), venue outages,
flapping zones, 5xx bursts, sporadic 5xx, timeouts and malformed/truncated
pages. tocsin sweeps every 60 s of virtual time. Its decisions are scored
against the simulator's ground truth: detection latency (outage start ->
confirmed down) p50/p99, missed outages, false downs, blips paged.

    .venv/bin/python bench/fleet_pipeline.py [sweep|quality|all] [--zones 10000,100000]
        [--gc both|default|tuned] [--trace]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from collections import defaultdict
from typing import Any

from pydantic import TypeAdapter

from tocsin.clock import Clock, FakeClock, SystemClock
from tocsin.detect.config import DetectionConfig
from tocsin.detect.detector import Detector
from tocsin.detect.events import StateChange
from tocsin.detect.types import TargetState
from tocsin.runtime.gctune import tune_gc
from tocsin.runtime.poller import Round, SourcePoller
from tocsin.runtime.target_series import TargetSeriesWriter
from tocsin.sim.config import FaultSpec, SimConfig
from tocsin.sim.simulator import FleetSimulator
from tocsin.sources.config import SourceConfig
from tocsin.sources.factory import build_source
from tocsin.tsdb.db import TSDB

INTERVAL = 60.0


def source_config(base_url: str, *, timeout: float = 10.0) -> Any:
    return TypeAdapter(SourceConfig).validate_python(
        {
            "name": "fleet",
            "type": "http_json",
            "url": f"{base_url}/v1/zones",
            "interval": INTERVAL,
            "timeout": timeout,
            "backoff": {"retries": 1, "initial": 0.05, "max": 0.2},
            "pagination": {"style": "page", "page_size": 500, "next_page": "next_page"},
            "items": "zones",
            "mapping": {
                "id": "id",
                "up": "status == 'online'",
                "labels": {
                    "venue": "venue.id",
                    "region": "venue.region",
                    "zone": "name",
                    "importance": "importance",
                },
                "latency_seconds": "latency_ms",
                "latency_scale": 0.001,
                "fields": {"volume": "volume"},
            },
            "recheck_url": f"{base_url}/v1/zones/{{id}}",
        }
    )


DETECTION = DetectionConfig.model_validate(
    {
        "confirm": [
            {
                "match": {"importance": "critical"},
                "down_after": {"failures": 2, "of": 3},
                "up_after": 2,
            },
            {"default": True, "down_after": {"failures": 3, "of": 5}, "up_after": 3},
        ]
    }
)


class Pipeline:
    """Source -> detector -> tsdb, as `tocsin run` wires them (minus the API)."""

    def __init__(
        self, base_url: str, clock: Clock, *, timeout: float = 10.0, keep_changes: bool = True
    ) -> None:
        self.source = build_source(source_config(base_url, timeout=timeout), clock)
        self.detector = Detector(DETECTION, clock)
        self.tsdb = TSDB(None)
        self.writer = TargetSeriesWriter(self.tsdb)
        # The quality score needs every state change; the memory figure must
        # not count them (`tocsin run` hands them to the store and drops them).
        self.keep_changes = keep_changes
        self.changes: list[StateChange] = []
        self.poller = SourcePoller(self.source, self.detector, self._sink, clock)

    async def _sink(self, rnd: Round) -> None:
        self.writer.write(self.detector.statuses(), int(rnd.sweep.finished * 1000))
        if self.keep_changes:
            self.changes.extend(rnd.changes)
        # As `tocsin run`: the changed targets are taken for saving every sweep.
        self.detector.take_dirty()

    async def close(self) -> None:
        await self.source.close()


# --------------------------------------------------------------------------- sweep


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_port(port: int) -> None:
    for _ in range(600):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("simulator did not start")


# Which stage a traced allocation belongs to: the innermost frame in one of
# these, skipping shared helpers (a source's label tuples are built by
# detect/labels.py, but held for the source).
STAGES = (
    ("source", "/tocsin/sources/"),
    ("detector", "/tocsin/detect/"),
    ("writer", "/tocsin/runtime/target_series.py"),
    ("tsdb", "/tocsin/tsdb/"),
)
SHARED_HELPERS = ("/tocsin/detect/labels.py",)
TRACE_FRAMES = 4


def _stage_of(traceback: tracemalloc.Traceback) -> str:
    for frame in reversed(traceback):  # most recent call first
        path = frame.filename.replace(os.sep, "/")
        if any(part in path for part in SHARED_HELPERS):
            continue
        for name, part in STAGES:
            if part in path:
                return name
    return "other"


def _by_stage(snapshot: tracemalloc.Snapshot) -> dict[str, int]:
    held = dict.fromkeys([name for name, _ in STAGES] + ["other"], 0)
    for stat in snapshot.statistics("traceback"):
        held[_stage_of(stat.traceback)] += stat.size
    return held


async def bench_sweep(
    zones: int, sweeps: int, *, tuned: bool, trace: bool = False
) -> dict[str, float]:
    port = _free_port()
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tocsin",
        "sim",
        "--venues",
        str(zones // 5),
        "--zones-per-venue",
        "5",
        "--port",
        str(port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _wait_port(port)
        gc.collect()
        rss0 = _rss_bytes()
        if trace:
            tracemalloc.start(TRACE_FRAMES)
        p = Pipeline(f"http://127.0.0.1:{port}", SystemClock(), keep_changes=False)
        if tuned:
            tune_gc()
        walls, cpus, calls = [], [], []
        peak_cold = 0
        for _ in range(sweeps):
            w0, c0 = time.perf_counter(), time.process_time()
            rnd = await p.poller.sweep_once()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
            calls.append(rnd.sweep.requests)
            assert rnd.sweep.ok, rnd.sweep.error
            if trace and len(walls) == 1:
                # The cold sweep's high-water mark: what it holds at once,
                # short-lived objects included (they fragment the heap).
                peak_cold = tracemalloc.get_traced_memory()[1]
        del rnd  # `tocsin run` keeps no round past its sink
        gc.collect()
        rss = _rss_bytes() - rss0
        traced: dict[str, float] = {}
        if trace:
            held = _by_stage(tracemalloc.take_snapshot())
            tracemalloc.stop()
            traced = {f"traced_{k}": v / zones for k, v in held.items()}
            traced["peak_cold_per_zone"] = peak_cold / zones
        await p.close()
        return {
            "zones": zones,
            "cold_wall": walls[0],
            "cold_cpu": cpus[0],
            "warm_wall": min(walls[1:]),
            "warm_cpu": min(cpus[1:]),
            "tuned": tuned,
            "calls": calls[-1],
            "rss_per_zone": rss / zones,
            "core_share_60s": min(cpus[1:]) / INTERVAL,
            **traced,
        }
    finally:
        sim.send_signal(signal.SIGINT)
        await asyncio.wait_for(sim.wait(), 10)


# --------------------------------------------------------------------------- quality


def scenario(zones_per_venue: int, venues: int, seed: int) -> list[FaultSpec]:
    rng = random.Random(seed)
    ids = [f"v{v:05d}-z{z}" for v in range(1, venues + 1) for z in range(1, zones_per_venue + 1)]
    picked = rng.sample(ids, 260)
    faults: list[dict[str, Any]] = []
    durations = [45, 90, 300, 900, 2400]  # two blips (< confirmation), three real outages
    for i, zone in enumerate(picked[:200]):
        faults.append(
            {
                "kind": "zone_outage",
                "zones": [zone],
                "at": rng.uniform(600, 6600),
                "duration": durations[i % len(durations)],
            }
        )
    faults.append(
        {"kind": "flapping", "zones": picked[200:220], "at": 1200, "duration": 3600, "period": 240}
    )
    for v in rng.sample(range(1, venues + 1), 5):
        faults.append(
            {
                "kind": "venue_outage",
                "venues": [f"v{v:05d}"],
                "at": rng.uniform(900, 5400),
                "duration": 1200,
            }
        )
    for at in (1500, 3900, 6300):
        faults.append({"kind": "api_5xx", "status": 503, "at": at, "duration": 180})
    faults.append({"kind": "api_5xx", "status": 502, "rate": 0.05, "at": 2400, "duration": 1800})
    faults.append({"kind": "timeout", "rate": 0.02, "at": 4500, "duration": 900, "delay": 30})
    faults.append({"kind": "malformed_json", "rate": 0.05, "at": 5400, "duration": 1200})
    faults.append({"kind": "truncated_json", "rate": 0.05, "at": 6600, "duration": 600})
    return [FaultSpec.model_validate(f) for f in faults]


async def drive(clock: FakeClock, work: Any) -> Any:
    """Run `work`, moving virtual time only while it waits on the clock.

    A sweep's backoff sleeps on the injected clock, so the driver nudges time
    forward (1 s per 20 ms of real waiting) until the sweep completes.
    """
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=0.02)
        if done:
            return task.result()
        await clock.advance(1.0)


def _percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


async def bench_quality(zones: int, hours: float, seed: int) -> dict[str, Any]:
    clock = FakeClock()
    venues = zones // 5
    faults = scenario(5, venues, seed)
    sim = FleetSimulator(
        SimConfig(venues=venues, zones_per_venue=5, seed=seed, failing_share=0.0, faults=faults),
        clock,
    )
    url = await sim.start()
    # A short real timeout: the simulator's timeout fault holds on the virtual clock.
    p = Pipeline(url, clock, timeout=0.5)
    start = clock.now()
    sweeps = int(hours * 3600 / INTERVAL)
    for _ in range(sweeps):
        await clock.advance(INTERVAL)
        sim.sync()
        await drive(clock, p.poller.sweep_once())
    end = clock.now()
    truth = sim.truth()
    await p.close()
    await sim.stop()
    return score(truth, p.changes, p.detector, start, end)


def score(
    truth: list[Any], changes: list[StateChange], detector: Detector, start: float, end: float
) -> dict[str, Any]:
    # Detected down intervals per target.
    downs: dict[str, list[list[float]]] = defaultdict(list)
    for c in sorted(changes, key=lambda c: c.at):
        if c.new is TargetState.DOWN:
            downs[c.target_id].append([c.at, end])
        elif c.old is TargetState.DOWN and downs[c.target_id]:
            downs[c.target_id][-1][1] = c.at
    flapping_zones = {r["target"] for r in truth if r["kind"] == "flapping"}
    outages = [r for r in truth if r["target"] and r["kind"] != "flapping"]
    latencies: list[float] = []
    missed, blips_ignored, blips_paged = [], 0, 0
    for r in outages:
        t0 = r["start"]
        t1 = r["end"] if r["end"] is not None else end
        critical = r["target"].endswith("-z1")
        window = (2 if critical else 3) * INTERVAL  # failures needed, in sweep time
        hits = [d for d in downs.get(r["target"], []) if d[0] >= t0 and d[0] <= t1 + 2 * INTERVAL]
        if t1 - t0 < window:
            if hits:
                blips_paged += 1
            else:
                blips_ignored += 1
            continue
        if t1 > end - INTERVAL:  # still running when the run stopped: not scored
            continue
        if hits:
            latencies.append(hits[0][0] - t0)
        else:
            missed.append(r)
    false_downs = 0
    for target, intervals in downs.items():
        spans = [(r["start"], r["end"] or end) for r in truth if r["target"] == target]
        for d0, _d1 in intervals:
            if not any(s0 - 6 * INTERVAL <= d0 <= s1 + 2 * INTERVAL for s0, s1 in spans):
                false_downs += 1
    flapping_detected = sum(
        1
        for z in flapping_zones
        if any(c.target_id == z and c.new is TargetState.FLAPPING for c in changes)
    )
    return {
        "outages_scored": len(latencies) + len(missed),
        "detected": len(latencies),
        "missed": len(missed),
        "latency_p50": _percentile(latencies, 0.5),
        "latency_p99": _percentile(latencies, 0.99),
        "false_downs": false_downs,
        "blips_ignored": blips_ignored,
        "blips_paged": blips_paged,
        "flapping_zones": len(flapping_zones),
        "flapping_detected": flapping_detected,
        "state_changes": len(changes),
    }


def _sweep_in_child(zones: int, sweeps: int, tuned: bool, trace: bool) -> dict[str, Any]:
    """`bench_sweep` in a fresh process: RSS growth must not reuse memory an
    earlier configuration freed."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "sweep",
            "--child",
            "--zones",
            str(zones),
            "--sweeps",
            str(sweeps),
            "--gc",
            "tuned" if tuned else "default",
            *(["--trace"] if trace else []),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("part", nargs="?", default="all", choices=["sweep", "quality", "all"])
    ap.add_argument("--zones", default="10000,100000")
    ap.add_argument("--sweeps", type=int, default=4)
    ap.add_argument("--quality-zones", type=int, default=10000)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--gc", choices=["both", "default", "tuned"], default="both")
    ap.add_argument("--trace", action="store_true", help="bytes held per zone by stage")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:  # one configuration, in a process of its own
        r = await bench_sweep(
            int(args.zones), args.sweeps, tuned=args.gc == "tuned", trace=args.trace
        )
        print(json.dumps(r))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    if args.part in ("sweep", "all"):
        print("\n## sweep (real time, simulator in a child process)\n")
        print(
            "| zones | gc tuned | cold wall s | cold cpu s | warm wall s | warm cpu s "
            "| API calls/sweep | core share at 60 s | RSS/zone |"
        )
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        gcs = {"both": (False, True), "default": (False,), "tuned": (True,)}[args.gc]
        for z, tuned in ((int(x), t) for x in args.zones.split(",") for t in gcs):
            r = _sweep_in_child(z, args.sweeps, tuned, args.trace)
            print(
                f"| {z:,} | {'yes' if tuned else 'no'} | {r['cold_wall']:.2f} "
                f"| {r['cold_cpu']:.2f} | {r['warm_wall']:.2f} "
                f"| {r['warm_cpu']:.2f} | {r['calls']:.0f} | {r['core_share_60s']:.3f} "
                f"| {r['rss_per_zone']:.0f} B |"
            )
            if args.trace:
                stages = ", ".join(
                    f"{k[len('traced_') :]} {v:,.0f} B"
                    for k, v in r.items()
                    if k.startswith("traced_")
                )
                print(f"\ntraced bytes per zone held after the sweeps: {stages}")
                peak = r["peak_cold_per_zone"]
                print(f"traced peak per zone during the cold sweep: {peak:,.0f} B\n")
    if args.part in ("quality", "all"):
        print(
            f"\n## quality ({args.quality_zones:,} zones, {args.hours:g} h virtual, "
            f"60 s interval, seed {args.seed})\n"
        )
        q = await bench_quality(args.quality_zones, args.hours, args.seed)
        for k, v in q.items():
            print(f"- {k}: {v:.1f}" if isinstance(v, float) else f"- {k}: {v}")


if __name__ == "__main__":
    asyncio.run(main())
