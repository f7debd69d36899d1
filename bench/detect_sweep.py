"""Detection cost at fleet scale: CPU per sweep and memory per target.

Usage: .venv/bin/python bench/detect_sweep.py [N ...]   (default: 10000 100000)

Feeds synthetic sweeps shaped like the simulator's fleet (5 zones per venue,
7 labels each) to one Detector and prints:
- CPU seconds for the first sweep (creates every target) and the median of
  later steady sweeps (about 1% of targets failing, a few flapping);
- bytes per target held by the detector, measured with tracemalloc after
  the sweep objects are freed (labels, history, status records, index).
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
import tracemalloc

from tocsin.clock import FakeClock
from tocsin.detect.config import DetectionConfig
from tocsin.detect.detector import Detector
from tocsin.sources.types import Observation, SweepResult

REGIONS = ("eu-north", "eu-west", "us-east", "us-west", "apac")
ZONES = ("Europe/Stockholm", "Europe/London", "America/New_York", "America/Los_Angeles")
IMPORTANCE = ("critical", "normal", "normal", "back-office")

CONFIG = DetectionConfig.model_validate(
    {
        "confirm": [
            {"match": {"importance": "critical"}, "down_after": {"failures": 2, "of": 3}},
            {"default": True, "down_after": {"failures": 3, "of": 5}, "up_after": 3},
        ],
        "schedules": [
            {
                "timezone_label": "timezone",
                "hours": {"mon-fri": "08:00-23:00", "sat-sun": "10:00-23:00"},
            }
        ],
    }
)


def fleet(n: int) -> list[tuple[str, dict[str, str]]]:
    out = []
    for i in range(n):
        venue = i // 5
        zone_id = f"zone-{i:06d}"
        out.append(
            (
                zone_id,
                {
                    "venue_id": f"venue-{venue:05d}",
                    "venue_name": f"Venue {venue} Plaza",
                    "region": REGIONS[venue % len(REGIONS)],
                    "timezone": ZONES[venue % len(ZONES)],
                    "zone_id": zone_id,
                    "zone_name": f"Zone {i % 5} of venue {venue}",
                    "importance": IMPORTANCE[i % len(IMPORTANCE)],
                },
            )
        )
    return out


def sweep(targets: list[tuple[str, dict[str, str]]], now: float, rnd: random.Random) -> SweepResult:
    n = len(targets)
    down = set(range(0, n, 100))  # 1% down for good
    obs = []
    for i, (tid, labels) in enumerate(targets):
        if i in down:
            up = False
        elif i % 997 == 1:
            up = rnd.random() < 0.5  # a few flapping
        else:
            up = rnd.random() > 0.001  # rare blips
        # A fresh dict every sweep, as a JSON source would produce.
        obs.append(Observation(tid, up, now, dict(labels), latency=0.05, fields={}))
    return SweepResult("fleet", now, now, obs, requests=n // 500)


def run(n: int) -> None:
    rnd = random.Random(1)
    clock = FakeClock(1_700_000_000.0)
    targets = fleet(n)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    detector = Detector(CONFIG, clock)
    first = sweep(targets, clock.now(), rnd)
    detector.observe_sweep(first, can_recheck=False)
    del first
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()

    # tracemalloc slows allocation down a lot: time the first sweep apart.
    detector = Detector(CONFIG, clock)
    first = sweep(targets, clock.now(), rnd)
    t0 = time.process_time()
    detector.observe_sweep(first, can_recheck=False)
    first_cpu = time.process_time() - t0
    del first

    cpu = []
    changes = 0
    for _ in range(12):
        clock.set(clock.now() + 60)
        s = sweep(targets, clock.now(), rnd)
        t0 = time.process_time()
        out = detector.observe_sweep(s, can_recheck=False)
        cpu.append(time.process_time() - t0)
        changes += len(out.changes)
    print(
        f"{n:>7} targets: first sweep {first_cpu:.3f} s CPU, steady sweep "
        f"{statistics.median(cpu):.3f} s CPU (median of {len(cpu)}, max {max(cpu):.3f}), "
        f"{held / n:.0f} bytes/target, {changes} state changes in {len(cpu)} sweeps"
    )


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    print(f"python {sys.version.split()[0]}")
    for size in sizes:
        run(size)
