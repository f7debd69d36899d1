"""The alerting tables, for queries and migrations. A change adds a
migration step in `db_migrations.py` and declares here what that version
added, under `version >= N`, so every version's tables stay declarable."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tocsin.storage.types import Id, JSONText

#: The newest schema version of the alerting component.
VERSION = 2


def define(md: sa.MetaData, version: int = VERSION) -> dict[str, sa.Table]:
    """Declare the tables on `md` as they are at schema `version` (the
    migrations and the queries share this)."""
    alerts = sa.Table(
        "alerting_alerts",
        md,
        sa.Column("fingerprint", sa.Text, primary_key=True),
        sa.Column("labels", JSONText, nullable=False),
        sa.Column("annotations", JSONText, nullable=False),
        sa.Column("starts_at", sa.Double, nullable=False),
        sa.Column("ends_at", sa.Double, nullable=False),
        sa.Column("generator_url", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("timeout", sa.Boolean, nullable=False),
    )
    groups = sa.Table(
        "alerting_groups",
        md,
        sa.Column("group_key", sa.Text, primary_key=True),
        sa.Column("route_id", sa.Text, nullable=False),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("labels", JSONText, nullable=False),
        sa.Column("next_flush", sa.Double, nullable=False),
        sa.Column("has_flushed", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    nflog = sa.Table(
        "alerting_nflog",
        md,
        sa.Column("group_key", sa.Text, primary_key=True),
        sa.Column("receiver", sa.Text, primary_key=True),
        sa.Column("integration", sa.Text, primary_key=True),
        sa.Column("firing", JSONText, nullable=False),
        sa.Column("resolved", JSONText, nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
    )
    silences = sa.Table(
        "alerting_silences",
        md,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("data", JSONText, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    history = sa.Table(
        "alerting_alert_history",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("old_state", sa.Text, nullable=False),
        sa.Column("new_state", sa.Text, nullable=False),
        sa.Column("labels", JSONText, nullable=False),
        sa.Column("annotations", JSONText, nullable=False),
        sa.Column("starts_at", sa.Double, nullable=False),
        sa.Column("ends_at", sa.Double, nullable=False),
        sa.Index("alerting_alert_history_fp", "fingerprint", "at"),
        sa.Index("alerting_alert_history_at", "at"),
    )
    notifications = sa.Table(
        "alerting_notifications",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("integration", sa.Text, nullable=False),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("firing", JSONText, nullable=False),
        sa.Column("resolved", JSONText, nullable=False),
        sa.Index("alerting_notifications_receiver", "receiver", "id"),
    )
    attempts = sa.Table(
        "alerting_delivery_attempts",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("integration", sa.Text, nullable=False),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("duration", sa.Double, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("retryable", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("final", sa.Boolean, nullable=False),
        *_since(
            version,
            2,
            # What the integration reported beyond the status: the Slack
            # message `ts`, refused email recipients.
            sa.Column("detail", sa.Text, nullable=False, server_default=""),
        ),
        sa.Index("alerting_delivery_attempts_receiver", "receiver", "id"),
    )
    return {
        "alerts": alerts,
        "groups": groups,
        "nflog": nflog,
        "silences": silences,
        "history": history,
        "notifications": notifications,
        "attempts": attempts,
    }


def _since(version: int, added: int, *items: sa.Column[Any]) -> tuple[sa.Column[Any], ...]:
    """`items` when the declared `version` has them (they came in `added`)."""
    return items if version >= added else ()


metadata = sa.MetaData()
T = define(metadata)
