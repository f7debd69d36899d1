"""The alerting pipeline's state and history in the shared Store.

What must survive a restart: active alerts, aggregation groups with their
next flush time, the notification log, silences, the flap-hold announcements.
What is kept as history: every alert state change, every notification
decision that sent something, every delivery attempt. All writes are small
SQLAlchemy Core statements through the Store's engine; SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from itertools import chain
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tocsin.alerting.nflog import LogEntry, LogKey
from tocsin.alerting.store import Change, StoredAlert
from tocsin.alerting.tables import T
from tocsin.notify.retry import DeliveryAttempt
from tocsin.storage import Store
from tocsin.storage.types import JSONText

_KV = "alerting"
_BATCH = 1000
# Parameters per statement on SQLite: under the 999 of SQLite before 3.32.
_SQLITE_VARIABLES = 990
_SQLITE_CACHE_KIB = 64 * 1024


#: A buffered row: a dict by column name, or a tuple already in the order of
#: the statement's columns with JSON encoded (built so on the hot paths).
Row = dict[str, Any] | tuple[Any, ...]
_Batch = tuple[dict[str, dict[tuple[Any, ...], Row | None]], dict[str, list[Row]]]


@dataclass(frozen=True, slots=True)
class GroupRow:
    group_key: str
    route_id: str
    receiver: str
    labels: Mapping[str, str]
    next_flush: float
    has_flushed: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class HistoryRow:
    id: int
    fingerprint: str
    at: float
    old_state: str
    new_state: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """One integration's delivery for one flush, whatever its outcome."""

    at: float
    receiver: str
    integration: str
    group_key: str
    status: str
    reason: str
    ok: bool
    attempts: int
    error: str
    firing: tuple[str, ...]
    resolved: tuple[str, ...]
    id: int = 0


class AlertingState:
    """Reads and writes of the alerting tables.

    Writes are buffered and committed together by `commit()`, in one
    transaction: the dispatcher commits once per event-loop turn, so the
    many small changes of concurrent flushes cost one round trip. Buffered
    writes to the same key collapse to the last one. Every read commits
    first, so it sees everything written before it. `commit_background()`
    writes on another thread instead (the database driver lets go of the
    GIL), one batch at a time, so the event loop goes on meanwhile.
    """

    _KEYS: dict[str, tuple[str, ...]] = {
        "alerts": ("fingerprint",),
        "groups": ("group_key",),
        "nflog": ("group_key", "receiver", "integration"),
        "silences": ("id",),
    }

    def __init__(self, store: Store, on_dirty: Callable[[], None] | None = None) -> None:
        self.store = store
        self.engine = store.engine
        self.on_dirty = on_dirty
        self._keyed: dict[str, dict[tuple[Any, ...], Row | None]] = {
            name: {} for name in self._KEYS
        }
        self._appends: dict[str, list[Row]] = {
            name: [] for name in ("history", "notifications", "attempts")
        }
        self._dirty = False
        self._stmts: dict[str, Any] = {}
        self._inflight: tuple[Future[None], _Batch] | None = None

    def _mark(self) -> None:
        if not self._dirty:
            self._dirty = True
            if self.on_dirty is not None:
                self.on_dirty()

    def _upsert_rows(self, name: str, rows: Iterable[dict[str, Any]]) -> None:
        buf, keys = self._keyed[name], self._KEYS[name]
        for r in rows:
            buf[tuple(r[k] for k in keys)] = r
        self._mark()

    def _delete_keys(self, name: str, keys: Iterable[tuple[Any, ...]]) -> None:
        buf = self._keyed[name]
        for k in keys:
            buf[k] = None
        self._mark()

    def _append(self, name: str, rows: Iterable[Row]) -> None:
        self._appends[name].extend(rows)
        self._mark()

    def commit(self) -> None:
        """Write everything buffered, in one transaction (after a background
        write still running has finished, so writes land in order)."""
        # A failed background write is put back in the buffer and retried here.
        with contextlib.suppress(Exception):
            self.settle()
        batch = self._take()
        if batch is not None:
            self._write_or_restore(batch)

    def commit_background(self, executor: Executor) -> Future[None] | None:
        """Start writing everything buffered on `executor`; None when there was
        nothing to write. Call only when `inflight` is None, and `settle()` once
        the future is done (on this thread: buffers are not locked)."""
        batch = self._take()
        if batch is None:
            return None
        future = executor.submit(self._write, *batch)
        self._inflight = (future, batch)
        return future

    @property
    def inflight(self) -> Future[None] | None:
        """The background write not yet settled."""
        return self._inflight[0] if self._inflight is not None else None

    def settle(self) -> None:
        """Wait for the background write; if it failed, put its rows back in
        the buffer (newer buffered writes win) and raise its error."""
        if self._inflight is None:
            return
        future, batch = self._inflight
        self._inflight = None
        try:
            future.result()
        except Exception:
            self._restore(batch)
            raise

    def _take(self) -> _Batch | None:
        if not self._dirty:
            return None
        keyed = {name: buf for name, buf in self._keyed.items() if buf}
        appends = {name: rows for name, rows in self._appends.items() if rows}
        self._keyed = {name: {} for name in self._KEYS}
        self._appends = {name: [] for name in self._appends}
        self._dirty = False
        return keyed, appends

    def _write_or_restore(self, batch: _Batch) -> None:
        try:
            self._write(*batch)
        except Exception:
            self._restore(batch)
            raise

    def _restore(self, batch: _Batch) -> None:
        keyed, appends = batch
        for name, buf in keyed.items():
            self._keyed[name] = {**buf, **self._keyed[name]}
        for name, rows in appends.items():
            self._appends[name] = rows + self._appends[name]
        self._dirty = True

    def _write(
        self,
        keyed: Mapping[str, Mapping[tuple[Any, ...], Row | None]],
        appends: Mapping[str, list[Row]],
    ) -> None:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                # The alert tables are written at random keys (fingerprints):
                # SQLite's default 2 MB page cache thrashes at 100,000 alerts.
                conn.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")
            for name, buf in keyed.items():
                table, cols = T[name], self._KEYS[name]
                gone = [k for k, row in buf.items() if row is None]
                rows = [row for row in buf.values() if row is not None]
                for i in range(0, len(gone), _BATCH):
                    chunk = gone[i : i + _BATCH]
                    if len(cols) == 1:
                        conn.execute(
                            table.delete().where(table.c[cols[0]].in_([k[0] for k in chunk]))
                        )
                    else:
                        conn.execute(
                            table.delete().where(sa.tuple_(*(table.c[c] for c in cols)).in_(chunk))
                        )
                if rows:
                    self._executemany(conn, name, rows, upsert=True)
            for name, rows in appends.items():
                self._executemany(conn, name, rows, upsert=False)

    def _executemany(
        self, conn: Connection, name: str, rows: Sequence[Row], *, upsert: bool
    ) -> None:
        """Rows straight to the driver's executemany, JSON encoded here.

        SQLAlchemy's per-row parameter processing costs more than the
        database at these volumes (as in `Store._bulk`); the SQL is the same
        on SQLite and PostgreSQL except for the placeholder. Rows built as
        tuples already (alerts, history: see `_alert_row`) go as they are.
        On SQLite, rows go many to a statement (`VALUES (...), (...)`): a
        statement step per row costs about a third more than the row's
        insert itself. Rows keep their order (history ids follow it).
        """
        sql, columns, json_cols = self._sql(name, upsert)
        data = [r if isinstance(r, tuple) else _as_tuple(r, columns, json_cols) for r in rows]
        per = _SQLITE_VARIABLES // len(columns) if self.engine.dialect.name == "sqlite" else 1
        whole = len(data) - len(data) % per if per > 1 else 0
        if whole:
            many, _, _ = self._sql(name, upsert, per)
            flat = [tuple(chain.from_iterable(data[i : i + per])) for i in range(0, whole, per)]
            for i in range(0, len(flat), _BATCH):
                conn.exec_driver_sql(many, flat[i : i + _BATCH])
        for i in range(whole, len(data), _BATCH):
            conn.exec_driver_sql(sql, data[i : i + _BATCH])

    def _sql(self, name: str, upsert: bool, rows: int = 1) -> tuple[str, list[str], frozenset[str]]:
        """The INSERT (or upsert) of `rows` rows into table `name`, its columns
        in parameter order and which of them hold JSON."""
        key = f"{name}:{upsert}:{rows}"
        found = self._stmts.get(key)
        if found is None:
            table = T[name]
            columns = [
                c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)
            ]
            if not upsert:
                columns = [c for c in columns if c != "id"]
            json_cols = frozenset(c.name for c in table.columns if isinstance(c.type, JSONText))
            mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
            values = f"({', '.join([mark] * len(columns))})"
            sql = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) "
                f"VALUES {', '.join([values] * rows)}"
            )
            if upsert:
                keys = self._KEYS[name]
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
                sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
            found = self._stmts[key] = (sql, columns, json_cols)
        return found

    # -- active alerts ------------------------------------------------------

    def save_alerts(self, alerts: Iterable[StoredAlert]) -> None:
        self.save_intake(list(alerts), (), 0.0)

    def save_intake(
        self, alerts: Sequence[StoredAlert], changes: Sequence[Change], at: float
    ) -> None:
        """`save_alerts(alerts)` then `append_changes(changes, at)`, encoding
        each alert's labels and annotations once for both rows."""
        encoded: dict[int, tuple[str, str]] = {}
        buf = self._keyed["alerts"]
        for a in alerts:
            js = encoded[id(a)] = _encode(a)
            buf[(a.fingerprint,)] = _alert_row(a, *js)
        if changes:
            self._appends["history"].extend(
                [
                    _history_row(c, at, *(encoded.get(id(c.alert)) or _encode(c.alert)))
                    for c in changes
                ]
            )
        self._mark()

    def delete_alerts(self, fps: Sequence[str]) -> None:
        if fps:
            self._delete_keys("alerts", ((fp,) for fp in fps))

    def load_alerts(self) -> list[StoredAlert]:
        self.commit()
        table = T["alerts"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table)).mappings().all()
        return [
            StoredAlert(
                labels=r["labels"],
                annotations=r["annotations"],
                starts_at=r["starts_at"],
                ends_at=r["ends_at"],
                generator_url=r["generator_url"],
                updated_at=r["updated_at"],
                timeout=bool(r["timeout"]),
                fingerprint=r["fingerprint"],
            )
            for r in rows
        ]

    # -- aggregation groups -------------------------------------------------

    def save_groups(self, groups: Iterable[GroupRow]) -> None:
        rows = [
            {
                "group_key": g.group_key,
                "route_id": g.route_id,
                "receiver": g.receiver,
                "labels": dict(g.labels),
                "next_flush": g.next_flush,
                "has_flushed": g.has_flushed,
                "created_at": g.created_at,
            }
            for g in groups
        ]
        self._upsert_rows("groups", rows)

    def delete_groups(self, keys: Sequence[str]) -> None:
        if keys:
            self._delete_keys("groups", ((k,) for k in keys))

    def load_groups(self) -> list[GroupRow]:
        self.commit()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(T["groups"])).mappings().all()
        return [
            GroupRow(
                group_key=r["group_key"],
                route_id=r["route_id"],
                receiver=r["receiver"],
                labels=r["labels"],
                next_flush=r["next_flush"],
                has_flushed=bool(r["has_flushed"]),
                created_at=r["created_at"],
            )
            for r in rows
        ]

    # -- notification log ---------------------------------------------------

    def save_nflog(self, entries: Iterable[LogEntry]) -> None:
        rows = [
            {
                "group_key": e.group_key,
                "receiver": e.receiver,
                "integration": e.integration,
                "firing": sorted(e.firing),
                "resolved": sorted(e.resolved),
                "timestamp": e.timestamp,
                "expires_at": e.expires_at,
            }
            for e in entries
        ]
        self._upsert_rows("nflog", rows)

    def delete_nflog(self, keys: Iterable[LogKey]) -> None:
        self._delete_keys("nflog", keys)

    def load_nflog(self) -> list[LogEntry]:
        self.commit()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(T["nflog"])).mappings().all()
        return [
            LogEntry(
                r["group_key"],
                r["receiver"],
                r["integration"],
                frozenset(r["firing"]),
                frozenset(r["resolved"]),
                r["timestamp"],
                r["expires_at"],
            )
            for r in rows
        ]

    # -- silences -----------------------------------------------------------

    def save_silences(self, silences: Iterable[Mapping[str, Any]]) -> None:
        rows = [
            {"id": s["id"], "data": dict(s), "updated_at": float(s.get("updated_at", 0.0))}
            for s in silences
        ]
        self._upsert_rows("silences", rows)

    def load_silences(self) -> list[dict[str, Any]]:
        self.commit()
        with self.engine.connect() as conn:
            return [dict(r[0]) for r in conn.execute(sa.select(T["silences"].c.data))]

    # -- small state --------------------------------------------------------

    def kv_get(self, key: str, default: Any = None) -> Any:
        return self.store.kv_get(_KV, key, default)

    def kv_put(self, key: str, value: Any) -> None:
        self.store.kv_put(_KV, key, value)

    # -- history ------------------------------------------------------------

    def append_changes(self, changes: Iterable[Change], at: float) -> None:
        rows = [_history_row(c, at, *_encode(c.alert)) for c in changes]
        if rows:
            self._append("history", rows)

    def alert_history(
        self, fingerprint: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[HistoryRow]:
        """State changes, newest first."""
        self.commit()
        table = T["history"]
        q = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if fingerprint:
            q = q.where(table.c.fingerprint == fingerprint)
        if since is not None:
            q = q.where(table.c.at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [HistoryRow(**dict(r)) for r in rows]

    def state_changes_since(self, since: float) -> list[tuple[str, float]]:
        """(fingerprint, at) of changes between firing and resolved since `since`."""
        self.commit()
        table = T["history"]
        q = sa.select(table.c.fingerprint, table.c.at).where(
            table.c.at >= since, table.c.old_state != ""
        )
        with self.engine.connect() as conn:
            return [(str(fp), float(at)) for fp, at in conn.execute(q)]

    def append_notifications(self, rows: Iterable[NotificationRow]) -> None:
        data = [
            {
                "at": r.at,
                "receiver": r.receiver,
                "integration": r.integration,
                "group_key": r.group_key,
                "status": r.status,
                "reason": r.reason,
                "ok": r.ok,
                "attempts": r.attempts,
                "error": r.error,
                "firing": list(r.firing),
                "resolved": list(r.resolved),
            }
            for r in rows
        ]
        if data:
            self._append("notifications", data)

    def notifications(self, receiver: str | None = None, limit: int = 100) -> list[NotificationRow]:
        """Deliveries, newest first."""
        self.commit()
        table = T["notifications"]
        q = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if receiver:
            q = q.where(table.c.receiver == receiver)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            NotificationRow(
                at=r["at"],
                receiver=r["receiver"],
                integration=r["integration"],
                group_key=r["group_key"],
                status=r["status"],
                reason=r["reason"],
                ok=bool(r["ok"]),
                attempts=r["attempts"],
                error=r["error"],
                firing=tuple(r["firing"]),
                resolved=tuple(r["resolved"]),
                id=r["id"],
            )
            for r in rows
        ]

    def append_attempt(self, a: DeliveryAttempt) -> None:
        self._append(
            "attempts",
            [
                {
                    "at": a.at,
                    "receiver": a.receiver,
                    "integration": a.integration,
                    "group_key": a.group_key,
                    "attempt": a.attempt,
                    "duration": a.duration,
                    "ok": a.ok,
                    "retryable": a.retryable,
                    "error": a.error,
                    "status_code": a.status_code,
                    "final": a.final,
                    "detail": a.detail,
                }
            ],
        )

    def attempts(self, receiver: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        self.commit()
        table = T["attempts"]
        q = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if receiver:
            q = q.where(table.c.receiver == receiver)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings().all()]


def _as_tuple(row: Mapping[str, Any], columns: Sequence[str], json_cols: frozenset[str]) -> Row:
    return tuple(
        orjson.dumps(row[c]).decode() if c in json_cols else row[c]  # JSON as text
        for c in columns
    )


def _encode(a: StoredAlert) -> tuple[str, str]:
    """The labels and annotations as JSON text (`default`: a Mapping that is
    not a dict is encoded as one)."""
    return (
        _orjson_dumps(a.labels, default=dict).decode(),
        _orjson_dumps(a.annotations, default=dict).decode(),
    )


_orjson_dumps = orjson.dumps


def _alert_row(a: StoredAlert, labels: str, annotations: str) -> tuple[Any, ...]:
    """A row of `alerting_alerts`, in the order of `_sql("alerts", True)`'s columns."""
    return (
        a.fingerprint,
        labels,
        annotations,
        a.starts_at,
        a.ends_at,
        a.generator_url,
        a.updated_at,
        a.timeout,
    )


def _history_row(c: Change, at: float, labels: str, annotations: str) -> tuple[Any, ...]:
    """A row of the alert history, in the order of `_sql("history", False)`'s columns."""
    a = c.alert
    return (
        a.fingerprint,
        at if c.at is None else c.at,
        c.old_state,
        c.new_state,
        labels,
        annotations,
        a.starts_at,
        a.ends_at,
    )


class HistoryAttemptSink:
    """An AttemptSink that keeps every delivery attempt in the alerting tables."""

    def __init__(self, state: AlertingState) -> None:
        self.state = state

    async def record(self, attempt: DeliveryAttempt) -> None:
        self.state.append_attempt(attempt)
