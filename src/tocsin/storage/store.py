"""The state store: event log, current states and small key-value state.

One SQLAlchemy Core code path serves SQLite (the embedded default, in WAL
mode) and PostgreSQL. Methods are synchronous and thread-safe; async code
calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from tocsin.clock import Clock, SystemClock
from tocsin.errors import TocsinError
from tocsin.storage import migrate
from tocsin.storage.records import (
    EventLike,
    EventRow,
    SourceLike,
    SourceRow,
    TargetLike,
    TargetRow,
)
from tocsin.storage.schema import events, kv, source_state, target_state
from tocsin.storage.types import JSONText

#: Rows per INSERT batch in bulk upserts: large enough to amortise round
#: trips, small enough to stay under SQLite's and PostgreSQL's bind limits.
BATCH = 2000

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class StorageError(TocsinError):
    """The store could not be opened or a statement failed."""


class Store:
    """Persistent state behind one database URL.

    `sqlite:///path/tocsin.db` (parent directories are created),
    `sqlite://` (in memory, for tests) or `postgresql+psycopg://user@host/db`.
    `schema` (PostgreSQL only) puts every table in that schema, which
    `migrate()` creates; it lets several tocsin instances or test runs share
    one database.
    """

    def __init__(self, url: str, *, clock: Clock | None = None, schema: str | None = None) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._read_lock: AbstractContextManager[Any] = nullcontext()
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StorageError(f"bad database URL {_redact(url)!r}: {exc}") from None
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise StorageError(
                f"unsupported database {backend!r} in {_redact(url)!r}: "
                "use sqlite:///path/tocsin.db or postgresql+psycopg://..."
            )
        if schema is not None and (backend != "postgresql" or not _SCHEMA_NAME.match(schema)):
            raise StorageError(
                f"schema {schema!r}: only for PostgreSQL, lower-case letters, digits and _"
            )
        self.schema = schema
        self.dialect = backend
        kwargs: dict[str, Any] = {}
        if backend == "sqlite":
            database = parsed.database or ""
            memory = database in ("", ":memory:")
            if not memory:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False}
            if memory:
                kwargs["poolclass"] = StaticPool
                self._read_lock = self._lock
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self._engine = sa.create_engine(parsed, **kwargs)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise StorageError(f"cannot open {_redact(url)!r}: {exc}") from None
        if backend == "sqlite":
            _sqlite_setup(self._engine)
        elif schema is not None:
            _search_path(self._engine, schema)

    # -- lifecycle -------------------------------------------------------

    def migrate(self, components: Iterable[migrate.Component] | None = None) -> list[str]:
        """Bring the schema up to date; returns the steps applied.

        By default applies every component `migrate.discover()` finds.
        """
        comps = migrate.discover() if components is None else list(components)
        with self._lock, self._errors("migrate"):
            if self.schema is not None:
                with migrate.locked(self._engine) as conn:
                    conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            return migrate.run(self._engine, comps, self._clock.now())

    def schema_versions(self) -> dict[str, int]:
        """Applied version per component."""
        with self._errors("read schema versions"):
            return migrate.applied(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, for modules that keep their own tables."""
        return self._engine

    # -- event log -------------------------------------------------------

    def append_events(self, items: Iterable[EventLike]) -> int:
        """Append events to the log; returns how many were written."""
        rows = [
            (
                e.at,
                e.kind,
                e.source,
                e.target_id,
                _text(e.old),
                _text(e.new),
                e.reason,
                _json(e.labels),
            )
            for e in items
        ]
        self._bulk(events, _EVENT_COLUMNS, None, rows, "append events")
        return len(rows)

    def events(
        self,
        target_id: str | None = None,
        since: float | None = None,
        limit: int = 100,
        *,
        source: str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
    ) -> list[EventRow]:
        """Newest first. `before_id` pages further back; `since` is inclusive."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        q = sa.select(events).order_by(events.c.id.desc()).limit(limit)
        if target_id is not None:
            q = q.where(events.c.target_id == target_id)
        if source is not None:
            q = q.where(events.c.source == source)
        if kind is not None:
            q = q.where(events.c.kind == kind)
        if since is not None:
            q = q.where(events.c.at >= since)
        if before_id is not None:
            q = q.where(events.c.id < before_id)
        with self._errors("read events"), self._read() as conn:
            return [EventRow(**row._mapping) for row in conn.execute(q)]

    def prune_events(self, before: float) -> int:
        """Delete events older than `before` (retention); returns how many."""
        with self._write("prune events") as conn:
            return int(conn.execute(events.delete().where(events.c.at < before)).rowcount)

    # -- current state ---------------------------------------------------

    def save_target_states(self, statuses: Iterable[TargetLike]) -> int:
        """Insert or update the current state of each target, in bulk."""
        now = self._clock.now()
        rows = [
            (
                s.target_id,
                s.source,
                _text(s.state),
                s.since,
                s.reason,
                s.last_observed,
                s.latency,
                _json(s.labels),
                _json(s.fields),
                _json(s.detail),
                now,
            )
            for s in statuses
        ]
        self._bulk(target_state, _TARGET_COLUMNS, ("target_id",), rows, "save target states")
        return len(rows)

    def load_target_states(self, source: str | None = None) -> list[TargetRow]:
        q = sa.select(*_raw_columns(target_state, _TARGET_COLUMNS))
        if source is not None:
            q = q.where(target_state.c.source == source)
        loads = orjson.loads
        with self._errors("load target states"), self._read() as conn:
            # JSON is decoded here rather than per column by SQLAlchemy: far
            # cheaper when 100,000 targets come back at start-up.
            return [
                TargetRow(tid, src, st, since, why, seen, lat, loads(lb), loads(fl), loads(dt), at)
                for tid, src, st, since, why, seen, lat, lb, fl, dt, at in conn.execute(q)
            ]

    def delete_target_states(self, target_ids: Sequence[str]) -> int:
        with self._write("delete target states") as conn:
            n = 0
            for start in range(0, len(target_ids), BATCH):
                chunk = list(target_ids[start : start + BATCH])
                n += conn.execute(
                    target_state.delete().where(target_state.c.target_id.in_(chunk))
                ).rowcount
            return n

    def save_source_states(self, sources: Iterable[SourceLike]) -> int:
        now = self._clock.now()
        rows = [
            {
                "source": s.source,
                "state": _text(s.state),
                "since": s.since,
                "reason": s.reason,
                "detail": dict(s.detail),
                "updated_at": now,
            }
            for s in sources
        ]
        self._upsert(source_state, ["source"], rows, "save source states")
        return len(rows)

    def load_source_states(self) -> list[SourceRow]:
        with self._errors("load source states"), self._read() as conn:
            return [SourceRow(**row._mapping) for row in conn.execute(sa.select(source_state))]

    # -- key-value -------------------------------------------------------

    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any:
        q = sa.select(kv.c.value).where(kv.c.namespace == namespace, kv.c.key == key)
        with self._errors("read kv"), self._read() as conn:
            row = conn.execute(q).first()
        return default if row is None else row[0]

    def kv_put(self, namespace: str, key: str, value: Any) -> None:
        """Store any JSON-serialisable value."""
        row = {"namespace": namespace, "key": key, "value": value, "updated_at": self._clock.now()}
        self._upsert(kv, ["namespace", "key"], [row], "write kv")

    def kv_delete(self, namespace: str, key: str) -> bool:
        with self._write("delete kv") as conn:
            result = conn.execute(kv.delete().where(kv.c.namespace == namespace, kv.c.key == key))
            return bool(result.rowcount)

    def kv_items(self, namespace: str) -> dict[str, Any]:
        q = sa.select(kv.c.key, kv.c.value).where(kv.c.namespace == namespace)
        with self._errors("read kv"), self._read() as conn:
            return {str(k): v for k, v in conn.execute(q)}

    # -- internals -------------------------------------------------------

    def _upsert(
        self, table: sa.Table, keys: list[str], rows: list[dict[str, Any]], what: str
    ) -> None:
        if not rows:
            return
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys,
            set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys},
        )
        with self._write(what) as conn:
            for start in range(0, len(rows), BATCH):
                conn.execute(stmt, rows[start : start + BATCH])

    def _bulk(
        self,
        table: sa.Table,
        columns: Sequence[str],
        keys: Sequence[str] | None,
        rows: list[tuple[Any, ...]],
        what: str,
    ) -> None:
        """INSERT (or upsert on `keys`) many rows straight through the driver.

        SQLAlchemy's per-row parameter processing costs more than the
        database itself at 100,000 rows, so bulk paths hand tuples of plain
        values (JSON already encoded) to the driver's executemany (psycopg
        pipelines it). The SQL is the same on SQLite and PostgreSQL; only
        the placeholder differs.
        """
        if not rows:
            return
        mark = "?" if self._engine.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join([mark] * len(columns))})"
        )
        if keys:
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
            sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        with self._write(what) as conn:
            for start in range(0, len(rows), BATCH):
                conn.exec_driver_sql(sql, rows[start : start + BATCH])

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # An in-memory database is one connection shared by every thread:
        # reads must queue behind writes there. Elsewhere reads run freely.
        with self._read_lock, self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        # One writer at a time: SQLite allows no more, and serialising here
        # beats "database is locked" retries.
        with self._lock, self._errors(what), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise StorageError(f"{what}: {exc.__class__.__name__}: {_first_line(exc)}") from exc


def _sqlite_setup(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin, so
        # DDL is transactional and reads inside a transaction are consistent.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",  # durable at checkpoints; safe with WAL
            "busy_timeout=10000",
            "foreign_keys=ON",
            "temp_store=MEMORY",
        ):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def _search_path(engine: sa.Engine, schema: str) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        with dbapi_conn.cursor() as cur:
            cur.execute(f'SET search_path TO "{schema}"')
        dbapi_conn.autocommit = autocommit


_ENUM_TEXT: dict[Enum, str] = {}


def _text(value: object) -> str:
    if isinstance(value, Enum):
        text = _ENUM_TEXT.get(value)
        if text is None:
            text = _ENUM_TEXT[value] = str(value.value)
        return text
    return str(value)


def _json(value: Mapping[str, Any]) -> str:
    if type(value) is not dict:
        value = dict(value)
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _raw_columns(table: sa.Table, names: Sequence[str]) -> list[sa.ColumnElement[Any]]:
    """Columns with JSON read back as text, for decoding in bulk."""
    return [
        sa.type_coerce(table.c[n], sa.Text) if isinstance(table.c[n].type, JSONText) else table.c[n]
        for n in names
    ]


_EVENT_COLUMNS = ("at", "kind", "source", "target_id", "old", "new", "reason", "labels")
_TARGET_COLUMNS = (
    "target_id",
    "source",
    "state",
    "since",
    "reason",
    "last_observed",
    "latency",
    "labels",
    "fields",
    "detail",
    "updated_at",
)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)
