"""tsdb memory per series for the fleet's target series (labels, index, head).

Each zone gets the three series `runtime/target_series.py` writes
(`tocsin_target_up`, `tocsin_target_latency_seconds`, `tocsin_target_volume`),
with the same 8 labels besides `__name__`. Each size runs in a fresh child
process so RSS growth is not muddied by an earlier run.

Run: .venv/bin/python bench/tsdb_memory.py [--series 100000,300000] [--samples 4]
Figures: docs/bench/tsdb.md.
"""

from __future__ import annotations

import argparse
import gc
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from tocsin.tsdb.db import TSDB
from tocsin.tsdb.types import LabelMatcher, MatchOp

T0 = 1_700_000_000
NAMES = ("tocsin_target_up", "tocsin_target_latency_seconds", "tocsin_target_volume")
REGIONS = ("eu-west", "eu-central", "us-east", "us-west", "ap-south")
ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo")


def target_labels(zones: int) -> list[dict[str, str]]:
    """Label sets in the writer's order, three series per zone (50 zones per venue)."""
    out = []
    for i in range(zones):
        v = i // 50
        base = {
            "venue": f"venue-{v:05d}",
            "venue_name": f"The Venue Number {v}",
            "region": REGIONS[v % len(REGIONS)],
            "timezone": ZONES[v % len(ZONES)],
            "zone": f"zone-{i:06d}",
            "importance": ("flagship", "standard", "backoffice")[i % 3],
            "target": f"zone-{i:06d}",
            "source": "fleet",
        }
        out.extend({"__name__": name, **base} for name in NAMES)
    return out


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def build(labels: list[dict[str, str]], samples: int) -> tuple[TSDB, float]:
    """A TSDB with the fleet's series, `samples` sweeps, one rule-like read."""
    db = TSDB().open()
    t = time.perf_counter()
    refs = db.refs(labels)
    create_s = time.perf_counter() - t
    vals = np.ones(len(refs))
    for k in range(samples):
        db.append_refs(refs, (T0 + 60 * k) * 1000, vals)
    up = [LabelMatcher("__name__", MatchOp.EQ, NAMES[0])]
    db.select_instant(up, (T0 + 60 * samples) * 1000, 300_000)
    db.label_values("venue")
    return db, create_s


def measure(series: int, samples: int, traced: bool) -> None:
    # The input label dicts are built first and kept alive, so neither figure
    # counts them: in tocsin they belong to the producer (the detector).
    labels = target_labels(series // 3)
    gc.collect()
    if traced:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    rss0 = rss_bytes()
    db, create_s = build(labels, samples)
    gc.collect()
    n = len(labels)
    if traced:
        grown = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        print(f"{n} traced {grown / n:.0f} {db.stats().head_bytes / n:.0f} {create_s:.2f}")
    else:
        print(f"{n} rss {(rss_bytes() - rss0) / n:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", default="100000,300000")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        measure(args.child, args.samples, args.traced)
        return
    print(f"{args.samples} samples per series; per series: tracemalloc growth, RSS growth\n")
    print("| series | traced | RSS growth (untraced run) | TsdbStats.head_bytes | create |")
    print("| --- | --- | --- | --- | --- |")
    for s in (int(x) for x in args.series.split(",")):
        got = {}
        for mode in (["--traced"], []):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(s),
                    "--samples",
                    str(args.samples),
                    *mode,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            got[out[1]] = out
        t, r = got["traced"], got["rss"]
        print(f"| {int(t[0]):,} | {t[2]} B | {r[2]} B | {t[3]} B | {t[4]} s |", flush=True)


if __name__ == "__main__":
    main()
