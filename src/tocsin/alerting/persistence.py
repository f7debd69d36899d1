"""The alerting pipeline's state and history in the shared Store.

What must survive a restart: active alerts, aggregation groups with their
next flush time, the notification log, silences, the flap-hold announcements.
What is kept as history: every alert state change, every notification
decision that sent something, every delivery attempt. All writes are small
SQLAlchemy Core statements through the Store's engine; SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tocsin.alerting.nflog import LogEntry, LogKey
from tocsin.alerting.store import Change, StoredAlert
from tocsin.alerting.tables import T
from tocsin.notify.retry import DeliveryAttempt
from tocsin.storage import Store

_KV = "alerting"
_BATCH = 1000


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
    """Reads and writes of the alerting tables."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    def _upsert(self, table: sa.Table, keys: Sequence[str], rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys},
        )
        with self.engine.begin() as conn:
            for i in range(0, len(rows), _BATCH):
                conn.execute(stmt, rows[i : i + _BATCH])

    def _insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(table.insert(), rows)

    # -- active alerts ------------------------------------------------------

    def save_alerts(self, alerts: Iterable[StoredAlert]) -> None:
        rows = [
            {
                "fingerprint": a.fingerprint,
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "starts_at": a.starts_at,
                "ends_at": a.ends_at,
                "generator_url": a.generator_url,
                "updated_at": a.updated_at,
                "timeout": a.timeout,
            }
            for a in alerts
        ]
        self._upsert(T["alerts"], ["fingerprint"], rows)

    def delete_alerts(self, fps: Sequence[str]) -> None:
        if not fps:
            return
        table = T["alerts"]
        with self.engine.begin() as conn:
            for i in range(0, len(fps), _BATCH):
                conn.execute(table.delete().where(table.c.fingerprint.in_(fps[i : i + _BATCH])))

    def load_alerts(self) -> list[StoredAlert]:
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
        self._upsert(T["groups"], ["group_key"], rows)

    def delete_groups(self, keys: Sequence[str]) -> None:
        if keys:
            table = T["groups"]
            with self.engine.begin() as conn:
                conn.execute(table.delete().where(table.c.group_key.in_(list(keys))))

    def load_groups(self) -> list[GroupRow]:
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
        self._upsert(T["nflog"], ["group_key", "receiver", "integration"], rows)

    def delete_nflog(self, keys: Iterable[LogKey]) -> None:
        table = T["nflog"]
        with self.engine.begin() as conn:
            for g, r, i in keys:
                conn.execute(
                    table.delete().where(
                        table.c.group_key == g, table.c.receiver == r, table.c.integration == i
                    )
                )

    def load_nflog(self) -> list[LogEntry]:
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
        self._upsert(T["silences"], ["id"], rows)

    def load_silences(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r[0]) for r in conn.execute(sa.select(T["silences"].c.data))]

    # -- small state --------------------------------------------------------

    def kv_get(self, key: str, default: Any = None) -> Any:
        return self.store.kv_get(_KV, key, default)

    def kv_put(self, key: str, value: Any) -> None:
        self.store.kv_put(_KV, key, value)

    # -- history ------------------------------------------------------------

    def append_changes(self, changes: Iterable[Change], at: float) -> None:
        rows = [
            {
                "fingerprint": c.alert.fingerprint,
                "at": at,
                "old_state": c.old_state,
                "new_state": c.new_state,
                "labels": dict(c.alert.labels),
                "annotations": dict(c.alert.annotations),
                "starts_at": c.alert.starts_at,
                "ends_at": c.alert.ends_at,
            }
            for c in changes
        ]
        self._insert(T["history"], rows)

    def alert_history(
        self, fingerprint: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[HistoryRow]:
        """State changes, newest first."""
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
        self._insert(T["notifications"], data)

    def notifications(self, receiver: str | None = None, limit: int = 100) -> list[NotificationRow]:
        """Deliveries, newest first."""
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
        self._insert(
            T["attempts"],
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
                }
            ],
        )

    def attempts(self, receiver: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        table = T["attempts"]
        q = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if receiver:
            q = q.where(table.c.receiver == receiver)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings().all()]


class HistoryAttemptSink:
    """An AttemptSink that keeps every delivery attempt in the alerting tables."""

    def __init__(self, state: AlertingState) -> None:
        self.state = state

    async def record(self, attempt: DeliveryAttempt) -> None:
        self.state.append_attempt(attempt)
