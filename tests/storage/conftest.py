from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.support import missing
from tocsin.clock import FakeClock
from tocsin.storage import Component, Store
from tocsin.storage.migrate import discover


def core_components() -> list[Component]:
    """Only the core tables: these tests do not depend on other modules' steps."""
    return [c for c in discover() if c.name == "core"]


PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_reachable() -> bool:
    try:
        psycopg.connect(PG_DSN, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


class Backend:
    """Opens stores on one database; for PostgreSQL in a schema of its own."""

    def __init__(self, kind: str, tmp_path: Path, clock: FakeClock) -> None:
        self.kind = kind
        self.clock = clock
        self.url = f"sqlite:///{tmp_path}/state/tocsin.db" if kind == "sqlite" else PG_URL
        self.schema = f"t_{uuid.uuid4().hex[:16]}" if kind == "postgresql" else None
        self.stores: list[Store] = []

    def open(self) -> Store:
        store = Store(self.url, clock=self.clock, schema=self.schema)
        self.stores.append(store)
        return store

    def cleanup(self) -> None:
        for store in self.stores:
            store.close()
        if self.schema is not None:
            engine = sa.create_engine(PG_URL)
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Backend]:
    if request.param == "postgresql" and not _pg_reachable():
        missing(f"PostgreSQL not reachable at {PG_DSN}")
    b = Backend(request.param, tmp_path, clock)
    try:
        yield b
    finally:
        b.cleanup()


@pytest.fixture
def store(backend: Backend) -> Store:
    s = backend.open()
    s.migrate(core_components())
    return s
