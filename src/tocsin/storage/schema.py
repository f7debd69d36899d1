"""The core tables as they are now, for queries. Changes go through
`db_migrations.py` first; keep this file in step with the latest version."""

from __future__ import annotations

import sqlalchemy as sa

from tocsin.storage.types import Id, JSONText

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("target_id", sa.Text),
    sa.Column("old", sa.Text, nullable=False),
    sa.Column("new", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("labels", JSONText, nullable=False),
)

target_state = sa.Table(
    "target_state",
    metadata,
    sa.Column("target_id", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("since", sa.Double, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("last_observed", sa.Double),
    sa.Column("latency", sa.Double),
    sa.Column("labels", JSONText, nullable=False),
    sa.Column("fields", JSONText, nullable=False),
    sa.Column("detail", JSONText, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("since", sa.Double, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", JSONText, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

kv = sa.Table(
    "kv",
    metadata,
    sa.Column("namespace", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", JSONText, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)
