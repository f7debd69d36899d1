"""Saving and restoring detection state at fleet scale.

Usage: .venv/bin/python bench/detect_persist.py [N ...]   (default: 10000 100000)

For SQLite (a temporary file, WAL) and, when reachable, PostgreSQL on
127.0.0.1 (a throw-away schema), prints wall seconds to: save every target's
state (bulk upsert, first insert and then update), load it back, restore a
new Detector from it, and append one event per target to the event log.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid

import sqlalchemy as sa

from tocsin.clock import FakeClock
from tocsin.detect.detector import Detector
from tocsin.storage import Store

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from detect_sweep import CONFIG, fleet, sweep  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def timed(label: str, fn, *args):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
    t0 = time.perf_counter()
    result = fn(*args)
    print(f"    {label:<28} {time.perf_counter() - t0:7.2f} s")
    return result


def run(n: int, url: str, schema: str | None) -> None:
    import random

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
