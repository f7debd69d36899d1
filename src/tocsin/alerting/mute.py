"""One question for every kind of muting: is this alert muted now, and why?

Silences, inhibition and time intervals all answer it, so the notification
pipeline chains them without knowing which is which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from tocsin.alerting.timeintervals import TimeIntervals


class Muter(Protocol):
    def mutes(self, labels: Mapping[str, str], now: float) -> str | None:
        """None when not muted, else a short human reason."""
        ...


class MuteChain:
    """Ask each muter in turn; the first reason wins."""

    def __init__(self, muters: Iterable[Muter]) -> None:
        self.muters: list[Muter] = list(muters)

    def mutes(self, labels: Mapping[str, str], now: float) -> str | None:
        for m in self.muters:
            reason = m.mutes(labels, now)
            if reason is not None:
                return reason
        return None


class TimeMuter:
    """A route's `mute_time_intervals` and `active_time_intervals`.

    Muted when any mute interval contains `now`, or when active intervals are
    given and none of them contains `now`. Labels do not matter: time
    intervals apply to everything the route sends.
    """

    def __init__(
        self,
        intervals: TimeIntervals,
        mute: Sequence[str] = (),
        active: Sequence[str] = (),
    ) -> None:
        for name in (*mute, *active):
            if name not in intervals.names():
                raise KeyError(f"time interval {name!r} doesn't exist in config")
        self.intervals = intervals
        self.mute = tuple(mute)
        self.active = tuple(active)

    def mutes(self, labels: Mapping[str, str], now: float) -> str | None:
        inside = self.intervals.active_names(self.mute, now)
        if inside:
            return "muted by time interval " + ", ".join(inside)
        if self.active and not self.intervals.active_names(self.active, now):
            return "outside active time intervals " + ", ".join(self.active)
        return None
