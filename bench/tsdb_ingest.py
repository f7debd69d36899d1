"""tsdb benchmark: ingest rate, head memory, select_instant latency, flush cost.

Run: .venv/bin/python bench/tsdb_ingest.py [--series 100000]
Figures and how they were obtained: docs/bench/tsdb.md.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from tocsin.clock import FakeClock
from tocsin.tsdb.config import StorageConfig
from tocsin.tsdb.db import TSDB, open_sqlite
from tocsin.tsdb.exposition import iter_samples, parse_series
from tocsin.tsdb.types import LabelMatcher, MatchOp

T0 = 1_700_000_000


def fleet(n: int) -> list[dict[str, str]]:
    return [
        {
            "__name__": "zone_up",
            "venue": f"venue-{i // 50}",
            "zone": f"zone-{i}",
            "importance": ("flagship", "standard", "backoffice")[i % 3],
        }
        for i in range(n)
    ]


def ups(n: int, rng: np.random.Generator) -> np.ndarray:
    v = np.ones(n)
    v[rng.choice(n, size=max(1, n // 300), replace=False)] = 0.0
    return v


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def ms(xs: list[float]) -> str:
    p90 = sorted(xs)[int(len(xs) * 0.9)]
    return f"median {statistics.median(xs) * 1e3:.2f} ms, p90 {p90 * 1e3:.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument(
        "--memory-only", action="store_true", help="skip SQLite flush/compaction and parsing"
    )
    args = ap.parse_args()
    n = args.series
    rng = np.random.default_rng(1)
    labels = fleet(n)
    print(f"series: {n:,}")

    # -- ingest ------------------------------------------------------------------
    db = TSDB().open()
    t = time.perf_counter()
    refs = db.refs(labels)
    print(f"create {n:,} series: {(time.perf_counter() - t) * 1e3:.0f} ms")
    vals = [ups(n, rng) for _ in range(args.batches)]
    t = time.perf_counter()
    for k in range(args.batches):
        db.append_batch(labels, (T0 + 60 * k) * 1000, vals[k])
    dt = time.perf_counter() - t
    print(f"append_batch (label sets, ref lookup): {args.batches * n / dt / 1e6:.2f} M samples/s")
    t = time.perf_counter()
    for k in range(args.batches):
        db.append_refs(refs, (T0 + 60 * (args.batches + k)) * 1000, vals[k])
    dt = time.perf_counter() - t
    print(f"append_refs (cached refs): {args.batches * n / dt / 1e6:.2f} M samples/s")

    # -- select_instant --------------------------------------------------------------
    now = (T0 + 60 * (2 * args.batches - 1)) * 1000
    cases = {
        "zone_up": [LabelMatcher("__name__", MatchOp.EQ, "zone_up")],
        'zone_up{importance="flagship"}': [
            LabelMatcher("__name__", MatchOp.EQ, "zone_up"),
            LabelMatcher("importance", MatchOp.EQ, "flagship"),
        ],
        'zone_up{venue=~"venue-1.*"}': [
            LabelMatcher("__name__", MatchOp.EQ, "zone_up"),
            LabelMatcher("venue", MatchOp.RE, "venue-1.*"),
        ],
    }
    for name, matchers in cases.items():
        db.index._cache.clear()
        cold = timed(lambda m=matchers: db.select_instant(m, now, 300_000), 1)[0]
        warm = timed(lambda m=matchers: db.select_instant(m, now, 300_000), 50)
        got = len(db.select_instant(matchers, now, 300_000)[0])
        print(f"select_instant {name} ({got:,} series): first {cold * 1e3:.1f} ms, then {ms(warm)}")
    past = timed(lambda: db.select_instant(cases["zone_up"], now - 30_000, 300_000), 5)
    print(f"select_instant zone_up at t before newest sample (binary search path): {ms(past)}")
    rng_sel = timed(
        lambda: db.select(cases['zone_up{importance="flagship"}'], now - 3_600_000, now), 5
    )
    print(f"select range 1h over {n // 3:,} series: {ms(rng_sel)}")
    batch = timed(lambda: db.select_batch(cases["zone_up"], now - 300_000, now), 5)
    print(f"select_batch 5m over {n:,} series (engine range-vector path): {ms(batch)}")
    try:
        from tocsin.promql import Engine

        eng = Engine()
        for q in (
            "count by (venue) (zone_up == 0)",
            "sum(zone_up) / count(zone_up)",
            "sum by (venue) (max_over_time(zone_up[5m]))",
        ):
            xs = timed(lambda q=q: eng.instant_query(db, q, now / 1000), 20)
            print(f"engine instant {q}: {ms(xs)}")
    except ImportError:
        print("engine not available")

    # -- label queries (API: /labels, /label/<name>/values) ---------------------------
    flag = cases['zone_up{importance="flagship"}']
    for what, fn in {
        "label_names()": lambda: db.label_names(),
        "label_values(venue)": lambda: db.label_values("venue"),
        "label_values(zone)": lambda: db.label_values("zone"),
        'label_values(venue, {importance="flagship"})': lambda: db.label_values("venue", flag),
        'label_names({importance="flagship"})': lambda: db.label_names(flag),
    }.items():
        print(f"{what}: {ms(timed(fn, 10))}")

    # -- memory ---------------------------------------------------------------------
    db.index._cache.clear()
    gc.collect()
    samples_per_series = 120  # 2h at one sample per minute
    small = min(n, 20_000)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    mem_db = TSDB().open()
    mem_refs = mem_db.refs(labels[:small])
    after_series = tracemalloc.get_traced_memory()[0]
    for k in range(samples_per_series):
        mem_db.head.append_refs(
            mem_refs, (T0 + 60 * k) * 1000, vals[k % len(vals)][:small], log=False
        )
    after_samples = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_series = (after_series - base) / small
    per_sample = (after_samples - after_series) / (small * samples_per_series)
    total = per_series + per_sample * samples_per_series
    print(
        f"head memory: {per_series:.0f} B per series (labels + index) + "
        f"{per_sample:.1f} B per sample -> {total:.0f} B per series with 2h at 1/min"
    )

    if args.memory_only:
        return

    # -- flush and compaction (SQLite) ----------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(T0 - T0 % 7200)
        cfg = StorageConfig()
        pdb = open_sqlite(str(Path(tmp) / "bench.sqlite"), cfg, clock=clock)
        prefs = pdb.refs(labels)
        flushes = []
        for k in range(120):
            clock.set(clock.now() + 60)
            pdb.append_refs(prefs, int(clock.now() * 1000), vals[k % len(vals)])
            if k % 10 == 9:
                t = time.perf_counter()
                pdb.flush()
                flushes.append(time.perf_counter() - t)
        print(f"flush of {10 * n:,} samples (10 min at 1/min) to SQLite: {ms(flushes)}")
        clock.set(clock.now() + 600)
        t = time.perf_counter()
        pdb.compact()
        dt = time.perf_counter() - t
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
        print(f"compact one 2h block ({n:,} series x ~120 samples, with 5m+1h rollups): {dt:.2f} s")
        assert pdb._store is not None
        with pdb._store.engine.connect() as conn:
            nbytes, nsamples = conn.exec_driver_sql(
                "SELECT SUM(LENGTH(data)), SUM(count) FROM tsdb_chunks"
            ).one()
            rbytes = conn.exec_driver_sql("SELECT SUM(LENGTH(data)) FROM tsdb_rollups").scalar()
        print(
            f"chunks: {nbytes / nsamples:.2f} B per sample ({nsamples:,} samples), "
            f"rollups {rbytes / n:.0f} B per series per block; "
            f"SQLite files {size / 1e6:.1f} MB (incl. freed segment pages)"
        )
        t = time.perf_counter()
        pdb.close()
        reopened = open_sqlite(str(Path(tmp) / "bench.sqlite"), cfg, clock=clock)
        print(
            f"restart (reload series + head from chunks): {time.perf_counter() - t:.2f} s, "
            f"{reopened.stats().head_samples:,} samples"
        )

    # -- exposition parsing -----------------------------------------------------------
    text = "".join(
        f'zone_up{{venue="{lb["venue"]}",zone="{lb["zone"]}",importance="{lb["importance"]}"}} 1\n'
        for lb in labels
    )
    t = time.perf_counter()
    theirs = sum(len(f.samples) for f in text_string_to_metric_families(text))
    t_theirs = time.perf_counter() - t
    t = time.perf_counter()
    ours = sum(1 for s, _v, _t in iter_samples(text) if parse_series(s))
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    cached = sum(1 for _ in iter_samples(text))
    t_cached = time.perf_counter() - t
    assert theirs == ours == cached == n
    print(
        f"parse {n:,} lines: prometheus_client {t_theirs * 1e3:.0f} ms, tocsin full "
        f"{t_ours * 1e3:.0f} ms, tocsin with series cache hit {t_cached * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
