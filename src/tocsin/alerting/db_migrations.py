"""Schema steps of the alerting tables (found by `tocsin.storage.migrate.discover`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tocsin.alerting.tables import define
from tocsin.storage.migrate import Migration

COMPONENT = "alerting"


def _v1(conn: Connection) -> None:
    # tables.define is version 1 as released. A later change to it must first
    # freeze a copy of this version here and add a new step.
    md = sa.MetaData()
    define(md)
    md.create_all(conn)


MIGRATIONS = [
    Migration(
        1,
        "active alerts, aggregation groups, notification log, silences, history",
        _v1,
    ),
]
