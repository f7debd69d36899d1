"""The store through tocsin.storage (migrations) on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa

from tests.support import missing
from tocsin.clock import FakeClock
from tocsin.storage import Store
from tocsin.tsdb.config import StorageConfig
from tocsin.tsdb.db import TSDB, open_sqlite
from tocsin.tsdb.types import LabelMatcher, MatchOp

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CFG = StorageConfig(retention=12 * 3600, flush_interval=60, head_window=3 * 3600)
T0 = 1_700_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/tocsin.db", None
        return
    try:
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=2).close()
    except psycopg.OperationalError:
        missing("PostgreSQL not reachable at 127.0.0.1:5432")
    schema = f"tsdb_{uuid.uuid4().hex[:12]}"
    try:
        yield PG_URL, schema
    finally:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_migrated_store_round_trips_through_compaction(store_url: tuple[str, str | None]) -> None:
    url, schema = store_url
    clock = FakeClock(T0)
    store = Store(url, clock=clock, schema=schema)
    applied = store.migrate()
    assert "tsdb:1" in applied
    db = TSDB(store.engine, CFG, clock=clock).open()
    labels = [{"__name__": "zone_up", "zone": f"z{i}"} for i in range(50)]
    refs = db.refs(labels)
    for k in range(5 * 60):
        clock.set(T0 + 60 * k)
        db.append_refs(refs, (T0 + 60 * k) * 1000, np.full(50, float(k % 7)))
        if k % 10 == 9:
            db.maintain()
    assert db.stats().compacted_until_ms is not None
    before = {
        s.labels["zone"]: (s.timestamps.tolist(), s.values.tolist())
        for s in db.select([LabelMatcher("__name__", MatchOp.EQ, "zone_up")], 0, 2**62)
    }
    db.close()
    store.close()

    store2 = Store(url, clock=clock, schema=schema)
    assert store2.migrate() == []  # nothing left to apply
    again = TSDB(store2.engine, CFG, clock=clock).open()
    after = {
        s.labels["zone"]: (s.timestamps.tolist(), s.values.tolist())
        for s in again.select([LabelMatcher("__name__", MatchOp.EQ, "zone_up")], 0, 2**62)
    }
    assert after == before
    assert len(after["z7"][0]) == 300
    store2.close()


def test_standalone_open_records_the_tsdb_migration(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    open_sqlite(str(tmp_path / "t.db"), CFG, clock=clock).close()
    store = Store(f"sqlite:///{tmp_path}/t.db", clock=clock)
    applied = store.migrate()
    assert "core:1" in applied
    assert "tsdb:1" not in applied  # the standalone open already applied it
    assert store.schema_versions()["tsdb"] == 1
    store.close()
