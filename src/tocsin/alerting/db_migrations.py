"""Schema steps of the alerting tables (found by `tocsin.storage.migrate.discover`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tocsin.alerting.tables import define
from tocsin.storage.migrate import Migration

COMPONENT = "alerting"


def _v1(conn: Connection) -> None:
    md = sa.MetaData()
    define(md, version=1)
    md.create_all(conn)


def _v2_attempt_detail(conn: Connection) -> None:
    conn.execute(
        sa.text("ALTER TABLE alerting_delivery_attempts ADD COLUMN detail TEXT NOT NULL DEFAULT ''")
    )


MIGRATIONS = [
    Migration(
        1,
        "active alerts, aggregation groups, notification log, silences, history",
        _v1,
    ),
    Migration(2, "delivery attempts keep the integration's detail", _v2_attempt_detail),
]
