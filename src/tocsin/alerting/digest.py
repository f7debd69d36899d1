"""Digest schedules: the next delivery time of a cron expression in a time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from tocsin.alerting.extensions import DigestConfig


class DigestSchedule:
    """When a digest receiver's groups are delivered: at every cron tick."""

    def __init__(self, config: DigestConfig) -> None:
        self.cron = config.cron
        self.tz = ZoneInfo(config.timezone)

    def next_after(self, t: float) -> float:
        """The first tick strictly after Unix time `t` (wall time in the zone,
        so "08:00" stays 08:00 across daylight-saving changes)."""
        start = datetime.fromtimestamp(t, UTC).astimezone(self.tz)
        nxt: datetime = croniter(self.cron, start).get_next(datetime)
        return nxt.timestamp()
