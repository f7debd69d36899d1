"""Time rule evaluation through the RuleManager over a 100,000-zone fleet.

Measures per-rule evaluation time (query + labels/annotations templating +
alert state machine + writing results, ALERTS and ALERTS_FOR_STATE back to
a memory-only tsdb), median of several evaluations, for a normal day (a few hundred
zones down) and a mass outage (10% of the fleet down).

    .venv/bin/python bench/rules_eval.py [--series 100000] [--runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

from tocsin.clock import FakeClock
from tocsin.promql import Engine
from tocsin.rules.loader import parse_rules
from tocsin.rules.manager import RuleManager
from tocsin.tsdb.db import TSDB

RULES = """
groups:
  - name: fleet
    interval: 15s
    rules:
      - record: venue:zone_up:sum
        expr: sum by (venue) (zone_up)
      - record: fleet:zone_up:ratio
        expr: sum(zone_up) / count(zone_up)
      - alert: ZoneDown
        expr: zone_up == 0
        for: 2m
        labels: {severity: '{{ if eq $labels.importance "high" }}page{{ else }}ticket{{ end }}'}
        annotations:
          summary: '{{ $labels.zone }} in {{ $labels.venue }} is offline'
      - alert: VenueDegraded
        expr: count by (venue) (zone_up == 0) >= 2
"""


class NullSink:
    def __init__(self) -> None:
        self.count = 0

    async def put(self, alerts: object) -> None:
        self.count += len(alerts)  # type: ignore[arg-type]


def build(series: int, down: int, seed: int = 1) -> tuple[TSDB, list[dict[str, str]], set[int]]:
    rng = random.Random(seed)
    store = TSDB(None, clock=FakeClock(1_700_000_000.0)).open()  # memory-only tsdb
    labels = [
        {
            "__name__": "zone_up",
            "venue": f"venue-{i // 50:05d}",
            "zone": f"zone-{i:06d}",
            "importance": "high" if i % 10 == 0 else "normal",
        }
        for i in range(series)
    ]
    down_ids = set(rng.sample(range(series), down))
    return store, labels, down_ids


async def run(series: int, down: int, runs: int) -> dict[str, float]:
    store, labels, down_ids = build(series, down)
    t0 = 1_700_000_000.0
    sink = NullSink()
    m = RuleManager(
        parse_rules(RULES, "bench.yml"), Engine(), store, sink, FakeClock(t0), restore=False
    )
    times: dict[str, list[float]] = {}
    total: list[float] = []
    for k in range(runs):
        t = t0 + 15 * k
        values = [0.0 if i in down_ids else 1.0 for i in range(len(labels))]
        store.append_batch(labels, round(t * 1000), values)
        start = time.perf_counter()
        await m.evaluate_all(t)
        total.append(time.perf_counter() - start)
        for r in m.groups[0].rules:
            times.setdefault(r.name, []).append(r.status.evaluation_seconds)
    out = {name: statistics.median(v) * 1000 for name, v in times.items()}
    out["whole group"] = statistics.median(total) * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    for title, down in (("normal day", 300), ("mass outage", args.series // 10)):
        res = asyncio.run(run(args.series, down, args.runs))
        print(f"{title}: {args.series} zones, {down} down, median of {args.runs} evaluations")
        for name, ms in res.items():
            print(f"  {name:<24} {ms:9.1f} ms")


if __name__ == "__main__":
    main()
