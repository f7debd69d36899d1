"""Versioned schema migrations, shared by every module that keeps tables.

A *component* (``core``, ``tsdb``, ``alerting``...) owns an ordered list of
`Migration` steps, numbered from 1. The `schema_migrations` table records
which (component, version) pairs are applied. `migrate()` applies the
missing ones in order, each in its own transaction together with its
bookkeeping row, under a lock so two processes starting together do not race.

Modules add their own migrations without touching this package: put a module
named ``db_migrations`` in the package (``tocsin/alerting/db_migrations.py``)
with ``COMPONENT = "alerting"`` and ``MIGRATIONS = [Migration(1, ...), ...]``;
`discover()` finds it. A step is a function of a SQLAlchemy `Connection`,
written with SQLAlchemy Core so it runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tocsin.errors import TocsinError

DISCOVERY_MODULE = "db_migrations"


class MigrationError(TocsinError):
    """The migration list is inconsistent or a step failed."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step. Never edit a released step: add a new one."""

    version: int
    description: str
    apply: Callable[[Connection], None]


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    migrations: Sequence[Migration]

    def check(self) -> None:
        versions = [m.version for m in self.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise MigrationError(
                f"component {self.name!r}: migration versions must be 1, 2, 3... "
                f"in order, got {versions}"
            )


_bookkeeping = sa.MetaData()
schema_migrations = sa.Table(
    "schema_migrations",
    _bookkeeping,
    sa.Column("component", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.Double, nullable=False),
)


def discover(package: str = "tocsin") -> list[Component]:
    """Every `db_migrations` module directly under the packages of `package`."""
    root = importlib.import_module(package)
    found: list[Component] = []
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        name = f"{package}.{info.name}.{DISCOVERY_MODULE}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        component = getattr(module, "COMPONENT", None)
        steps = getattr(module, "MIGRATIONS", None)
        if not isinstance(component, str) or not isinstance(steps, (list, tuple)):
            raise MigrationError(f"{name} must define COMPONENT (str) and MIGRATIONS (list)")
        found.append(Component(component, tuple(steps)))
    # The core tables come first: others may refer to them.
    found.sort(key=lambda c: (c.name != "core", c.name))
    return found


def applied(engine: Engine) -> dict[str, int]:
    """Highest applied version per component (empty before the first migrate)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_migrations"):
            return {}
        rows = conn.execute(
            sa.select(
                schema_migrations.c.component, sa.func.max(schema_migrations.c.version)
            ).group_by(schema_migrations.c.component)
        ).all()
    return {str(c): int(v) for c, v in rows}


def run(engine: Engine, components: Iterable[Component], now: float) -> list[str]:
    """Apply missing steps; return "component:version" for each one applied."""
    components = list(components)
    names = [c.name for c in components]
    if len(set(names)) != len(names):
        raise MigrationError(f"duplicate migration components: {sorted(names)}")
    for c in components:
        c.check()
    with locked(engine) as conn:
        schema_migrations.create(conn, checkfirst=True)
    done: list[str] = []
    for component in components:
        for step in component.migrations:
            with locked(engine) as conn:
                exists = conn.execute(
                    sa.select(schema_migrations.c.version).where(
                        schema_migrations.c.component == component.name,
                        schema_migrations.c.version == step.version,
                    )
                ).first()
                if exists:
                    continue
                try:
                    step.apply(conn)
                except Exception as exc:
                    raise MigrationError(
                        f"migration {component.name}:{step.version} "
                        f"({step.description}) failed: {exc}"
                    ) from exc
                conn.execute(
                    schema_migrations.insert().values(
                        component=component.name,
                        version=step.version,
                        description=step.description,
                        applied_at=now,
                    )
                )
                done.append(f"{component.name}:{step.version}")
    return done


class locked:
    """A transaction holding the database-wide migration lock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __enter__(self) -> Connection:
        conn = self._engine.connect()
        if self._engine.dialect.name == "sqlite":
            # Take the write lock up front, before reading what is applied.
            conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self._conn = conn
        self._tx = conn.begin()
        if self._engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('tocsin_migrations'))"))
        return conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._tx.commit()
            else:
                self._tx.rollback()
        finally:
            self._conn.close()
