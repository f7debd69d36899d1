"""Weekly opening hours: `{mon-fri: "08:00-23:00", sat: "10:00-14:00,16:00-23:00"}`.

Days not listed are closed all day. A range whose end is before its start
runs past midnight into the next day ("22:00-02:00"); "24:00" is allowed as
an end. Times are local to the target's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_MINUTES_PER_DAY = 24 * 60


class WeeklyHours:
    """Open minute ranges per weekday (0 = Monday), half-open [start, end)."""

    __slots__ = ("_days", "text")

    def __init__(self, days: tuple[tuple[tuple[int, int], ...], ...], text: str) -> None:
        self._days = days
        self.text = text

    def is_open(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self._days[local.weekday()])

    def is_open_at(self, t: float, zone: ZoneInfo) -> bool:
        return self.is_open(datetime.fromtimestamp(t, zone))

    def __repr__(self) -> str:
        return f"WeeklyHours({self.text!r})"


def _parse_days(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise ValueError(f"unknown day range {part!r} (days are {', '.join(DAYS)})")
            a, b = DAYS.index(first), DAYS.index(last)
            out.extend(DAYS.index(d) % 7 for d in (DAYS * 2)[a : (b if b >= a else b + 7) + 1])
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise ValueError(f"unknown day {part!r} (days are {', '.join(DAYS)})")
    return out


def _parse_time(text: str, *, allow_24: bool) -> int:
    m = _TIME.match(text.strip())
    if not m:
        raise ValueError(f"bad time {text!r}, expected HH:MM")
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"bad time {text!r}")
    return hours * 60 + minutes


def parse_hours(spec: Mapping[str, str]) -> WeeklyHours:
    """Parse a day-spec -> ranges mapping; raises ValueError naming the bad part."""
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for day_spec, ranges in spec.items():
        if not isinstance(day_spec, str) or not isinstance(ranges, str):
            raise ValueError(f'expected "day-spec": "HH:MM-HH:MM" strings, got {day_spec!r}')
        for day in _parse_days(day_spec):
            if ranges.strip().lower() == "closed":
                continue
            for rng in ranges.split(","):
                start_s, sep, end_s = rng.partition("-")
                if not sep:
                    raise ValueError(f"bad range {rng!r} for {day_spec!r}, expected HH:MM-HH:MM")
                start = _parse_time(start_s, allow_24=False)
                end = _parse_time(end_s, allow_24=True)
                if start == end:
                    raise ValueError(f"empty range {rng!r} for {day_spec!r}")
                if end > start:
                    days[day].append((start, end))
                else:
                    days[day].append((start, _MINUTES_PER_DAY))
                    if end:
                        days[(day + 1) % 7].append((0, end))
    text = ", ".join(f"{k} {v}" for k, v in spec.items())
    return WeeklyHours(tuple(tuple(sorted(d)) for d in days), text)
