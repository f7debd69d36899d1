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


def measure(series: int, samples: int) -> None:
    labels = target_labels(series // 3)
    n = len(labels)
    vals = np.ones(n)
    gc.collect()
    rss0 = rss_bytes()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    db = TSDB().open()
    t = time.perf_counter()
    refs = db.refs(labels)
    create_s = time.perf_counter() - t
    after_series = tracemalloc.get_traced_memory()[0]
    for k in range(samples):
        db.append_refs(refs, (T0 + 60 * k) * 1000, vals)
    # What rules and the API touch: a selection, its label table, label values.
    up = [LabelMatcher("__name__", MatchOp.EQ, NAMES[0])]
    db.select_instant(up, (T0 + 60 * samples) * 1000, 300_000)
    db.label_values("venue")
    gc.collect()
    after_all = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del labels
    gc.collect()
    rss = rss_bytes() - rss0
    print(
        f"| {n:,} | {(after_series - base) / n:.0f} B | {(after_all - base) / n:.0f} B "
        f"| {rss / n:.0f} B | {db.stats().head_bytes / n:.0f} B | {create_s:.2f} s |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", default="100000,300000")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        measure(args.child, args.samples)
        return
    print(f"{args.samples} samples per series, tracemalloc and RSS growth per series\n")
    print(
        "| series | traced after create | traced after samples + select | RSS growth "
        "| TsdbStats.head_bytes | create time |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for s in (int(x) for x in args.series.split(",")):
        subprocess.run(
            [sys.executable, __file__, "--child", str(s), "--samples", str(args.samples)],
            check=True,
        )


if __name__ == "__main__":
    main()
