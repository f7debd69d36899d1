"""Saving and restoring detection state at fleet scale.

Usage: .venv/bin/python bench/detect_persist.py [N ...]   (default: 10000 100000)

For SQLite (a temporary file, WAL) and, when reachable, PostgreSQL on
127.0.0.1 (a throw-away schema), prints wall and CPU seconds to: save every target's
state (bulk upsert, first insert and then update), load it back, restore a
new Detector from it, and append one event per target to the event log.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

# Run as a script, this file's directory is on sys.path.
from detect_sweep import CONFIG, fleet, sweep

from tocsin.clock import FakeClock
from tocsin.detect.detector import Detector
from tocsin.storage import Store

T = TypeVar("T")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def timed(label: str, fn: Callable[..., T], *args: Any) -> T:
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"    {label:<28} {wall:7.2f} s wall {cpu:7.2f} s CPU (this process)")
    return result


def run(n: int, url: str, schema: str | None) -> None:
    clock = FakeClock()
    detector = Detector(CONFIG, clock)
    targets = fleet(n)
    rnd = random.Random(1)
    changes = []
    for _ in range(4):
        clock.set(clock.now() + 60)
        changes.extend(detector.observe_sweep(sweep(targets, clock.now(), rnd)).changes)
    store = Store(url, clock=clock, schema=schema)
    store.migrate()
    try:
        snap = detector.export()
        timed("save (insert)", store.save_target_states, snap.targets)
        timed("save (update)", store.save_target_states, snap.targets)
        rows = timed("load", store.load_target_states)
        fresh = Detector(CONFIG, clock)
        timed("restore into Detector", fresh.restore, rows)
        assert len(fresh) == n
        timed(f"append {len(changes)} events", store.append_events, changes)
    finally:
        if schema is not None:
            with store.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        store.close()


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
        have_pg = True
    except sa.exc.OperationalError:
        have_pg = False
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{n} targets, SQLite (WAL):")
            run(n, f"sqlite:///{tmp}/tocsin.db", None)
        if have_pg:
            print(f"{n} targets, PostgreSQL:")
            run(n, PG_URL, f"bench_{uuid.uuid4().hex[:12]}")
        else:
            print("PostgreSQL not reachable at 127.0.0.1:5432: skipped")


if __name__ == "__main__":
    main()
