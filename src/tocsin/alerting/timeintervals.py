"""Named time intervals (`time_intervals:`) and whether an instant falls in one.

Semantics follow Alertmanager's timeinterval package: every field given must
contain the instant (fields left out match everything); within a field the
ranges are alternatives. Times are [start, end) minutes of the day; weekday,
day-of-month, month and year ranges are inclusive. Negative days of month
count from the end (-1 is the last day). Evaluation happens in `location`
(an IANA zone), UTC when none is given.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = {
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}

_TIME = re.compile(r"(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))\Z")


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Minutes of the day, start inclusive, end exclusive."""

    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True)
class IntRange:
    """An inclusive range; a single value has begin == end."""

    begin: int
    end: int


@dataclass(frozen=True)
class TimeInterval:
    times: tuple[TimeRange, ...] | None = None
    weekdays: tuple[IntRange, ...] | None = None
    days_of_month: tuple[IntRange, ...] | None = None
    months: tuple[IntRange, ...] | None = None
    years: tuple[IntRange, ...] | None = None
    location: str | None = None
    _tz: tzinfo = field(default=UTC, repr=False, compare=False)

    def contains(self, t: float) -> bool:
        """Does the Unix instant `t` fall within this interval?"""
        dt = datetime.fromtimestamp(t, tz=self._tz)
        if self.times is not None:
            minute = dt.hour * 60 + dt.minute
            if not any(r.start_minute <= minute < r.end_minute for r in self.times):
                return False
        if self.days_of_month is not None and not _in_days_of_month(dt, self.days_of_month):
            return False
        if self.months is not None and not any(r.begin <= dt.month <= r.end for r in self.months):
            return False
        if self.weekdays is not None:
            weekday = (dt.weekday() + 1) % 7  # Python: Monday=0; Alertmanager: Sunday=0
            if not any(r.begin <= weekday <= r.end for r in self.weekdays):
                return False
        return self.years is None or any(r.begin <= dt.year <= r.end for r in self.years)


def _in_days_of_month(dt: datetime, ranges: Iterable[IntRange]) -> bool:
    days = calendar.monthrange(dt.year, dt.month)[1]
    for r in ranges:
        begin = days + r.begin + 1 if r.begin < 0 else r.begin
        end = days + r.end + 1 if r.end < 0 else r.end
        if begin > days:
            continue  # e.g. day 31 in a 30-day month never matches
        begin = max(-days, min(begin, days))
        end = max(-days, min(end, days))
        if begin <= dt.day <= end:
            return True
    return False


# --- parsing (used by the config models; ValueError names the problem) ------


def parse_time_of_day(text: str) -> int:
    """`HH:MM` (00:00 to 24:00) -> minutes of the day."""
    m = _TIME.match(text)
    if m is None:
        raise ValueError(f"couldn't parse timestamp {text!r}, invalid format (expected HH:MM)")
    hours, minutes = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return int(hours) * 60 + int(minutes)


def parse_time_range(start: str, end: str) -> TimeRange:
    if not start or not end:
        raise ValueError("both start and end times must be provided")
    s, e = parse_time_of_day(start), parse_time_of_day(end)
    if s >= e:
        raise ValueError("start time cannot be equal or greater than end time")
    return TimeRange(s, e)


def _split_range(text: str, member: type[int] | Mapping[str, int], what: str) -> IntRange:
    lowered = text.lower()
    parts = lowered.split(":") if ":" in lowered else [lowered, lowered]
    if len(parts) != 2:
        raise ValueError(f"couldn't parse range {text!r}, invalid format")

    def one(p: str) -> int:
        if isinstance(member, Mapping):
            if p in member:
                return member[p]
            if what == "month":
                try:
                    return int(p)
                except ValueError:
                    pass
            raise ValueError(f"{p!r} is not a valid {what}")
        try:
            return int(p)
        except ValueError:
            raise ValueError(f"{p!r} is not a valid {what}") from None

    return IntRange(one(parts[0]), one(parts[1]))


def parse_weekday_range(text: str) -> IntRange:
    r = _split_range(text, WEEKDAYS, "weekday")
    if r.begin > r.end:
        raise ValueError(f"{text!r}: start day cannot be after end day")
    return r


def parse_day_of_month_range(text: str) -> IntRange:
    r = _split_range(str(text), int, "day of the month")
    for d in (r.begin, r.end):
        if d == 0 or not -31 <= d <= 31:
            raise ValueError(f"{d} is not a valid day of the month: out of range")
    if r.begin < 0 < r.end:
        raise ValueError("end day must be negative if start day is negative")
    check_begin = 28 + r.begin if r.begin < 0 else r.begin
    check_end = 28 + r.end if r.end < 0 else r.end
    if check_begin > check_end:
        raise ValueError(f"end day {r.end} is always before start day {r.begin}")
    return r


def parse_month_range(text: str) -> IntRange:
    r = _split_range(str(text), MONTHS, "month")
    for mo in (r.begin, r.end):
        if not 1 <= mo <= 12:
            raise ValueError(f"{mo} is not a valid month: out of range")
    if r.begin > r.end:
        raise ValueError(f"{text!r}: end month is before start month")
    return r


def parse_year_range(text: str) -> IntRange:
    r = _split_range(str(text), int, "year")
    if r.begin > r.end:
        raise ValueError(f"end year {r.end} is before start year {r.begin}")
    return r


def load_location(name: str) -> tzinfo:
    if name in ("UTC", ""):
        return UTC
    if name == "Local":
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def make_interval(
    *,
    times: Sequence[TimeRange] | None = None,
    weekdays: Sequence[IntRange] | None = None,
    days_of_month: Sequence[IntRange] | None = None,
    months: Sequence[IntRange] | None = None,
    years: Sequence[IntRange] | None = None,
    location: str | None = None,
) -> TimeInterval:
    def tup(x: Sequence[TimeRange] | Sequence[IntRange] | None) -> tuple | None:
        return tuple(x) if x is not None else None

    return TimeInterval(
        times=tup(times),
        weekdays=tup(weekdays),
        days_of_month=tup(days_of_month),
        months=tup(months),
        years=tup(years),
        location=location,
        _tz=load_location(location) if location else UTC,
    )


class TimeIntervals:
    """The named intervals of a config: `active(name, t)`."""

    def __init__(self, named: Mapping[str, Sequence[TimeInterval]]) -> None:
        self._named = {k: tuple(v) for k, v in named.items()}

    def names(self) -> list[str]:
        return list(self._named)

    def active(self, name: str, t: float) -> bool:
        """Is `t` inside any of the intervals named `name`? KeyError if unknown."""
        try:
            intervals = self._named[name]
        except KeyError:
            raise KeyError(f"time interval {name!r} doesn't exist in config") from None
        return any(ti.contains(t) for ti in intervals)

    def active_names(self, names: Iterable[str], t: float) -> list[str]:
        """Those of `names` whose interval contains `t`, in the given order."""
        return [n for n in names if self.active(n, t)]
