"""Schema steps of the core tables: event log, current states, key-value.

Each step declares its tables as they were at that version, on a MetaData
of its own, so later steps can change `schema.py` without rewriting history.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tocsin.storage.migrate import Migration
from tocsin.storage.types import Id, JSONText

COMPONENT = "core"


def _v1_core_tables(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "events",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("target_id", sa.Text, nullable=True),
        sa.Column("old", sa.Text, nullable=False),
        sa.Column("new", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("labels", JSONText, nullable=False),
        sa.Index("events_target_id", "target_id", "id"),
        sa.Index("events_source_id", "source", "id"),
        sa.Index("events_at", "at"),
    )
    sa.Table(
        "target_state",
        md,
        sa.Column("target_id", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("since", sa.Double, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("last_observed", sa.Double, nullable=True),
        sa.Column("latency", sa.Double, nullable=True),
        sa.Column("labels", JSONText, nullable=False),
        sa.Column("fields", JSONText, nullable=False),
        sa.Column("detail", JSONText, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Index("target_state_source", "source"),
        sa.Index("target_state_state", "state"),
    )
    sa.Table(
        "source_state",
        md,
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("since", sa.Double, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", JSONText, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    sa.Table(
        "kv",
        md,
        sa.Column("namespace", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", JSONText, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    md.create_all(conn)


MIGRATIONS = [
    Migration(1, "event log, target and source state, key-value", _v1_core_tables),
]
