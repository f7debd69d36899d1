"""Schema steps of the tsdb tables for tocsin.storage's migration runner.

Not yet named `db_migrations.py`, so `migrate.discover()` does not pick it
up by itself: pass `component()` to `Store.migrate` (renaming the module
enables auto-discovery). Step 1 is idempotent (CREATE TABLE IF NOT EXISTS):
databases whose tables a standalone `TSDB.open()` already created adopt the
migration unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tocsin.storage.migrate import Component, Migration

COMPONENT = "tsdb"


def _v1_tables(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "tsdb_series",
        md,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("labels", sa.Text, nullable=False, unique=True),
    )
    sa.Table(
        "tsdb_segments",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mint", sa.BigInteger, nullable=False),
        sa.Column("maxt", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    sa.Table(
        "tsdb_chunks",
        md,
        sa.Column("series_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("block_start", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("mint", sa.BigInteger, nullable=False),
        sa.Column("maxt", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Index("ix_tsdb_chunks_block", "block_start"),
    )
    sa.Table(
        "tsdb_rollups",
        md,
        sa.Column("series_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("resolution_ms", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("block_start", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("mint", sa.BigInteger, nullable=False),
        sa.Column("maxt", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Index("ix_tsdb_rollups_block", "resolution_ms", "block_start"),
    )
    sa.Table(
        "tsdb_meta",
        md,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    md.create_all(conn, checkfirst=True)


MIGRATIONS = [Migration(1, "tsdb series, flush segments, chunks, rollups, meta", _v1_tables)]


def component() -> Component:
    return Component(COMPONENT, tuple(MIGRATIONS))
