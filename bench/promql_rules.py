"""Time the fleet rules over 100,000 zone_up series in tocsin's PromQL engine.

Usage: .venv/bin/python bench/promql_rules.py [--series 100000] [--down 300] [--runs 50]
Prints milliseconds per evaluation (median and p90) for each rule.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from tocsin.promql import Engine, MemStore

RULES = [
    "zone_up == 0",
    "count by (venue) (zone_up == 0) >= 2",
    "sum by (venue) (zone_up)",
    "sum(zone_up) / count(zone_up)",
    "count by (venue) (zone_up == 0)",
    # not a fleet rule of the issue; shows the range-vector path
    "sum by (venue) (rate(zone_up[5m]))",
]


def build(series: int, down: int, samples: int, seed: int = 1) -> MemStore:
    rng = random.Random(seed)
    store = MemStore()
    zones_per_venue = 50
    down_ids = set(rng.sample(range(series), down))
    for i in range(series):
        labels = {
            "__name__": "zone_up",
            "venue": f"venue-{i // zones_per_venue:05d}",
            "zone": f"zone-{i:06d}",
            "importance": ("flagship", "standard", "backoffice")[i % 3],
        }
        for k in range(samples):
            value = 0.0 if (i in down_ids and k == samples - 1) else 1.0
            store.append(labels, k * 15_000, value)
    return store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--down", type=int, default=300)
    ap.add_argument("--samples", type=int, default=4, help="samples per series (15 s apart)")
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    t0 = time.perf_counter()
    store = build(args.series, args.down, args.samples)
    engine = Engine()
    t_eval = (args.samples - 1) * 15.0
    engine.instant_query(store, "count(zone_up)", t_eval)  # builds the store's index
    print(
        f"loaded {args.series} series x {args.samples} samples in {time.perf_counter() - t0:.1f}s"
    )
    print(f"{'rule':45s} {'median ms':>10s} {'p90 ms':>8s} {'results':>8s}")
    for rule in RULES:
        times = []
        n = 0
        for _ in range(args.runs):
            start = time.perf_counter()
            res = engine.instant_query(store, rule, t_eval)
            times.append((time.perf_counter() - start) * 1000)
            n = len(res)  # type: ignore[arg-type]
        times.sort()
        p90 = times[int(len(times) * 0.9) - 1]
        print(f"{rule:45s} {statistics.median(times):10.2f} {p90:8.2f} {n:8d}")


if __name__ == "__main__":
    main()
