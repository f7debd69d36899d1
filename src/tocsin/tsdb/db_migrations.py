"""Schema steps of the tsdb tables for tocsin.storage's migration runner.

`migrate.discover()` finds this module, so `Store.migrate()` creates the
tsdb tables with the others. A standalone `TSDB.open()` (no Store) runs the
same component itself. Step 1 is idempotent (CREATE TABLE IF NOT EXISTS):
databases whose tables an older `TSDB.open()` created adopt it unchanged.
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
