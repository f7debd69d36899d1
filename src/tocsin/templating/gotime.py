"""Go's time.Time and time.Duration as template values.

Templates call methods on times (``.StartsAt.Format "15:04"``,
``(1800 | toDuration).String``), so these classes expose Go's method names
and print the way Go prints them. Times keep nanoseconds as an integer.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UTC = _dt.UTC
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_NS = 1_000_000_000

_LONG_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_LONG_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

RFC3339 = "2006-01-02T15:04:05Z07:00"
DEFAULT_LAYOUT = "2006-01-02 15:04:05.999999999 -0700 MST"


def load_location(name: str) -> _dt.tzinfo:
    """Go's time.LoadLocation: "" and "UTC" are UTC, "Local" is the system zone."""
    if name in ("", "UTC"):
        return _UTC
    if name == "Local":
        local = _dt.datetime.now().astimezone().tzinfo
        return local if local is not None else _UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name}") from exc


class GoDuration:
    """Go's time.Duration: an integer count of nanoseconds."""

    go_type = "time.Duration"
    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        self.ns = int(ns)

    @classmethod
    def from_seconds(cls, seconds: float) -> GoDuration:
        return cls(int(seconds * _NS))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoDuration) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(self.ns)

    def __repr__(self) -> str:
        return f"GoDuration({self.String()})"

    def String(self) -> str:
        return format_duration(self.ns)

    def Seconds(self) -> float:
        return self.ns / _NS

    def Minutes(self) -> float:
        return self.ns / (60 * _NS)

    def Hours(self) -> float:
        return self.ns / (3600 * _NS)

    def Milliseconds(self) -> int:
        return int(self.ns / 1_000_000)

    def Nanoseconds(self) -> int:
        return self.ns

    def Abs(self) -> GoDuration:
        return GoDuration(abs(self.ns))

    def Round(self, m: GoDuration) -> GoDuration:
        if m.ns <= 0:
            return self
        q, r = divmod(abs(self.ns), m.ns)
        if r + r >= m.ns:
            q += 1
        return GoDuration(int(math.copysign(q * m.ns, self.ns)))

    def Truncate(self, m: GoDuration) -> GoDuration:
        if m.ns <= 0:
            return self
        return GoDuration(self.ns - int(math.fmod(self.ns, m.ns)))


def _fmt_frac(value: int, digits: int) -> tuple[str, int]:
    """Fraction part of value/10**digits with trailing zeros dropped, and the integer part."""
    whole, frac = divmod(value, 10**digits)
    if frac == 0:
        return "", whole
    text = f"{frac:0{digits}d}".rstrip("0")
    return "." + text, whole


def format_duration(ns: int) -> str:
    """Go's Duration.String: 1h2m3.5s, 150ms, 0s."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < _NS:
        if u < 1000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            frac, whole = _fmt_frac(u, 3)
            return f"{sign}{whole}{frac}µs"
        frac, whole = _fmt_frac(u, 6)
        return f"{sign}{whole}{frac}ms"
    frac, secs = _fmt_frac(u, 9)
    out = f"{secs % 60}{frac}s"
    mins = secs // 60
    if mins > 0:
        out = f"{mins % 60}m" + out
        hours = mins // 60
        if hours > 0:
            out = f"{hours}h" + out
    return sign + out


class GoTime:
    """Go's time.Time: Unix nanoseconds plus a location."""

    go_type = "time.Time"
    __slots__ = ("ns", "tz")

    def __init__(self, ns: int, tz: _dt.tzinfo = _UTC) -> None:
        self.ns = int(ns)
        self.tz = tz

    @classmethod
    def from_unix(cls, seconds: float, tz: _dt.tzinfo = _UTC) -> GoTime:
        """A time from Unix seconds, truncated to nanoseconds like Go's int64(v*1e9)."""
        return cls(int(seconds * 1e9), tz)

    @classmethod
    def from_datetime(cls, value: _dt.datetime) -> GoTime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        delta = value - _EPOCH
        ns = (delta.days * 86400 + delta.seconds) * _NS + delta.microseconds * 1000
        return cls(ns, value.tzinfo or _UTC)

    def datetime(self) -> _dt.datetime:
        """The Python datetime (microsecond precision) in this time's zone."""
        secs, rem = divmod(self.ns, _NS)
        base = _EPOCH + _dt.timedelta(seconds=secs, microseconds=rem // 1000)
        return base.astimezone(self.tz)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTime) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(self.ns)

    def __repr__(self) -> str:
        return f"GoTime({self.String()})"

    def String(self) -> str:
        return self.Format(DEFAULT_LAYOUT)

    def Format(self, layout: str) -> str:
        return format_time(self, layout)

    def UTC(self) -> GoTime:
        return GoTime(self.ns, _UTC)

    def Local(self) -> GoTime:
        return GoTime(self.ns, load_location("Local"))

    def In(self, tz: Any) -> GoTime:
        return GoTime(self.ns, load_location(tz) if isinstance(tz, str) else tz)

    def Unix(self) -> int:
        return self.ns // _NS

    def UnixMilli(self) -> int:
        return self.ns // 1_000_000

    def UnixNano(self) -> int:
        return self.ns

    def Add(self, d: GoDuration) -> GoTime:
        return GoTime(self.ns + d.ns, self.tz)

    def Sub(self, other: GoTime) -> GoDuration:
        return GoDuration(self.ns - other.ns)

    def Before(self, other: GoTime) -> bool:
        return self.ns < other.ns

    def After(self, other: GoTime) -> bool:
        return self.ns > other.ns

    def Equal(self, other: GoTime) -> bool:
        return self.ns == other.ns

    def IsZero(self) -> bool:
        return self.ns == ZERO_TIME_NS

    def Year(self) -> int:
        return self.datetime().year

    def Month(self) -> int:
        return self.datetime().month

    def Day(self) -> int:
        return self.datetime().day

    def Hour(self) -> int:
        return self.datetime().hour

    def Minute(self) -> int:
        return self.datetime().minute

    def Second(self) -> int:
        return self.datetime().second

    def Weekday(self) -> str:
        return _LONG_DAYS[self.datetime().weekday()]

    def YearDay(self) -> int:
        return self.datetime().timetuple().tm_yday


# Go's zero time.Time is 0001-01-01 00:00:00 UTC.
ZERO_TIME_NS = -62135596800 * _NS


# Layout elements, in the order Go's layout scanner recognises them.
_STD_PATTERN = re.compile(
    r"January|Jan|Monday|Mon|MST|"
    r"0[1-6]|002|15|1|2006|2|_2006|__2|_2|3|4|5|PM|pm|"
    r"-07:00:00|-070000|-0700|-07:00|-07|"
    r"Z07:00:00|Z070000|Z0700|Z07:00|Z07|"
    r"[.,](?:0+|9+)(?![0-9])"
)


@functools.lru_cache(maxsize=256)
def _compile_layout(layout: str) -> tuple[tuple[bool, str], ...]:
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in _STD_PATTERN.finditer(layout):
        if m.start() > pos:
            parts.append((False, layout[pos : m.start()]))
        token = m.group(0)
        if token == "_2006":
            parts.append((False, "_"))
            token = "2006"
        parts.append((True, token))
        pos = m.end()
    if pos < len(layout):
        parts.append((False, layout[pos:]))
    return tuple(parts)


def _zone(offset_s: int, token: str) -> str:
    if token.startswith("Z") and offset_s == 0:
        return "Z"
    sign = "-" if offset_s < 0 else "+"
    off = abs(offset_s)
    hh, rem = divmod(off, 3600)
    mm, ss = divmod(rem, 60)
    core = token.lstrip("Z-")
    if core == "07":
        return f"{sign}{hh:02d}"
    if core == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if core == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    if core == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"


def _zone_name(dt: _dt.datetime, offset_s: int) -> str:
    if dt.tzinfo is _UTC:
        return "UTC"
    name = None if isinstance(dt.tzinfo, _dt.timezone) else dt.tzname()
    if name and not name.startswith(("+", "-")):
        return name
    # Go prints an unnamed zone as its offset, e.g. +0530.
    return _zone(offset_s, "-0700")


def format_time(t: GoTime, layout: str) -> str:
    """Go's Time.Format with a reference-time layout ("2006-01-02 15:04:05")."""
    dt = t.datetime()
    nanos = t.ns % _NS
    offset = dt.utcoffset()
    offset_s = int(offset.total_seconds()) if offset is not None else 0
    out: list[str] = []
    for is_std, token in _compile_layout(layout):
        if not is_std:
            out.append(token)
            continue
        if token == "2006":
            out.append(f"{dt.year:04d}")
        elif token == "06":
            out.append(f"{dt.year % 100:02d}")
        elif token == "January":
            out.append(_LONG_MONTHS[dt.month - 1])
        elif token == "Jan":
            out.append(_LONG_MONTHS[dt.month - 1][:3])
        elif token == "01":
            out.append(f"{dt.month:02d}")
        elif token == "1":
            out.append(str(dt.month))
        elif token == "Monday":
            out.append(_LONG_DAYS[dt.weekday()])
        elif token == "Mon":
            out.append(_LONG_DAYS[dt.weekday()][:3])
        elif token == "02":
            out.append(f"{dt.day:02d}")
        elif token == "2":
            out.append(str(dt.day))
        elif token == "_2":
            out.append(f"{dt.day:2d}")
        elif token == "002":
            out.append(f"{dt.timetuple().tm_yday:03d}")
        elif token == "__2":
            out.append(f"{dt.timetuple().tm_yday:3d}")
        elif token == "15":
            out.append(f"{dt.hour:02d}")
        elif token in ("03", "3"):
            hour = dt.hour % 12 or 12
            out.append(f"{hour:02d}" if token == "03" else str(hour))
        elif token == "04":
            out.append(f"{dt.minute:02d}")
        elif token == "4":
            out.append(str(dt.minute))
        elif token == "05":
            out.append(f"{dt.second:02d}")
        elif token == "5":
            out.append(str(dt.second))
        elif token == "PM":
            out.append("PM" if dt.hour >= 12 else "AM")
        elif token == "pm":
            out.append("pm" if dt.hour >= 12 else "am")
        elif token == "MST":
            out.append(_zone_name(dt, offset_s))
        elif token[0] in "-Z":
            out.append(_zone(offset_s, token))
        else:  # fractional seconds: .000 / .999 / ,000 / ,999
            sep, digits = token[0], len(token) - 1
            frac = f"{nanos:09d}"[:digits]
            if token[1] == "9":
                frac = frac.rstrip("0")
                out.append(sep + frac if frac else "")
            else:
                out.append(sep + frac)
    return "".join(out)


def parse_go_duration(text: str, allow_negative: bool = True) -> float:
    """Prometheus's duration syntax (1h30m, 5m, 2d, 1w, 1y, 10ms) in seconds."""
    m = _PROM_DURATION.fullmatch(text)
    if not text or m is None or text in ("-", "0-"):
        raise ValueError(f'not a valid duration string: "{text}"')
    sign = -1.0 if text.startswith("-") else 1.0
    if sign < 0 and not allow_negative:
        raise ValueError(f'not a valid duration string: "{text}"')
    body = text.lstrip("-")
    if body == "0":
        return 0.0
    total_ms = 0
    for value, unit in _PROM_UNIT.findall(body):
        total_ms += int(value) * _PROM_UNITS_MS[unit]
    return sign * total_ms / 1000.0


_PROM_UNITS_MS = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
_PROM_DURATION = re.compile(
    r"-?(?:0|(?:[0-9]+y)?(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?(?:[0-9]+ms)?)"
)
_PROM_UNIT = re.compile(r"([0-9]+)(ms|y|w|d|h|m|s)")


# --- parsing times with a Go layout ---------------------------------------------------


class _ParseError(ValueError):
    pass


def _getnum(value: str, fixed: int | None, max_digits: int = 2) -> tuple[int, str]:
    """Read a number: exactly `fixed` digits, or 1..max_digits digits."""
    if fixed is not None:
        digits = value[:fixed]
        if len(digits) != fixed or not digits.isdigit() or not digits.isascii():
            raise _ParseError
        return int(digits), value[fixed:]
    i = 0
    while i < len(value) and i < max_digits and "0" <= value[i] <= "9":
        i += 1
    if i == 0:
        raise _ParseError
    return int(value[:i]), value[i:]


def _lookup_name(names: list[str], value: str, short: bool) -> tuple[int, str]:
    for i, name in enumerate(names):
        candidate = name[:3] if short else name
        if value[: len(candidate)].lower() == candidate.lower():
            return i, value[len(candidate) :]
    raise _ParseError


def _parse_offset(value: str, token: str) -> tuple[int, str]:
    if token.startswith("Z") and value.startswith("Z"):
        return 0, value[1:]
    core = token.lstrip("Z-")
    if not value or value[0] not in "+-":
        raise _ParseError
    sign = -1 if value[0] == "-" else 1
    rest = value[1:]
    hh, rest = _getnum(rest, 2)
    mm = ss = 0
    if core in ("0700", "070000"):
        mm, rest = _getnum(rest, 2)
        if core == "070000":
            ss, rest = _getnum(rest, 2)
    elif core in ("07:00", "07:00:00"):
        if not rest.startswith(":"):
            raise _ParseError
        mm, rest = _getnum(rest[1:], 2)
        if core == "07:00:00":
            if not rest.startswith(":"):
                raise _ParseError
            ss, rest = _getnum(rest[1:], 2)
    return sign * (hh * 3600 + mm * 60 + ss), rest


def _parse_fraction(value: str, digits: int) -> int:
    frac = value[1 : 1 + digits]
    if not frac.isdigit():
        raise _ParseError
    return int(frac[:9].ljust(9, "0"))


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_time(layout: str, value: str, loc: _dt.tzinfo = _UTC) -> GoTime:
    """Go's time.ParseInLocation: read `value` laid out like the reference time.

    Raises ValueError with Go's message, e.g. ``parsing time "x" as
    "2006-01-02": cannot parse "x" as "2006"``.
    """
    year, month, day, hour, minute, second, nsec = 1, 1, 1, 0, 0, 0, 0
    yday = -1
    pm: bool | None = None
    offset: int | None = None
    rest = value
    parts = _compile_layout(layout)
    for index, (is_std, token) in enumerate(parts):
        if not is_std:
            if not rest.startswith(token):
                raise ValueError(
                    f'parsing time "{value}" as "{layout}": cannot parse "{rest}" as "{token}"'
                )
            rest = rest[len(token) :]
            continue
        before = rest
        try:
            if token == "2006":
                year, rest = _getnum(rest, 4)
            elif token == "06":
                yy, rest = _getnum(rest, 2)
                year = yy + (1900 if yy >= 69 else 2000)
            elif token in ("01", "1"):
                month, rest = _getnum(rest, 2 if token == "01" else None)
            elif token in ("Jan", "January"):
                month, rest = _lookup_name(_LONG_MONTHS, rest, token == "Jan")
                month += 1
            elif token in ("Mon", "Monday"):
                _, rest = _lookup_name(_LONG_DAYS, rest, token == "Mon")
            elif token in ("02", "2", "_2"):
                if token == "_2" and rest.startswith(" "):
                    rest = rest[1:]
                day, rest = _getnum(rest, 2 if token == "02" else None)
            elif token in ("002", "__2"):
                if token == "__2":
                    rest = rest.lstrip(" ")
                yday, rest = _getnum(rest, 3 if token == "002" else None, 3)
            elif token == "15":
                hour, rest = _getnum(rest, None)
            elif token in ("03", "3"):
                hour, rest = _getnum(rest, 2 if token == "03" else None)
            elif token in ("04", "4"):
                minute, rest = _getnum(rest, 2 if token == "04" else None)
            elif token in ("05", "5"):
                second, rest = _getnum(rest, 2 if token == "05" else None)
                # A fraction the layout does not mention is still accepted.
                nxt = parts[index + 1][1] if index + 1 < len(parts) else ""
                if (
                    len(rest) > 1
                    and rest[0] in ".,"
                    and rest[1].isdigit()
                    and not (nxt[:1] in ".," and nxt[1:2] in ("0", "9"))
                ):
                    n = 1
                    while n < len(rest) and rest[n].isdigit():
                        n += 1
                    nsec = _parse_fraction(rest, n - 1)
                    rest = rest[n:]
            elif token in ("PM", "pm"):
                word = rest[:2]
                if word.upper() not in ("AM", "PM") or (token == "PM" and word != word.upper()):
                    raise _ParseError
                pm = word.upper() == "PM"
                rest = rest[2:]
            elif token == "MST":
                m = re.match(r"[A-Z][A-Za-z]{2,4}(?:[+-]\d{1,2})?", rest)
                if m is None:
                    raise _ParseError
                if m.group(0) in ("UTC", "GMT", "Z"):
                    offset = 0
                rest = rest[m.end() :]
            elif token[0] in "-Z":
                offset, rest = _parse_offset(rest, token)
            else:  # fractional seconds
                digits = len(token) - 1
                if token[1] == "9":
                    if len(rest) >= 2 and rest[0] in ".," and rest[1].isdigit():
                        n = 1
                        while n < len(rest) and rest[n].isdigit():
                            n += 1
                        nsec = _parse_fraction(rest, n - 1)
                        rest = rest[n:]
                else:
                    if len(rest) < digits + 1 or rest[0] not in ".,":
                        raise _ParseError
                    nsec = _parse_fraction(rest, digits)
                    rest = rest[digits + 1 :]
        except _ParseError:
            raise ValueError(
                f'parsing time "{value}" as "{layout}": cannot parse "{before}" as "{token}"'
            ) from None
    if rest:
        raise ValueError(f'parsing time "{value}": extra text: "{rest}"')
    if pm is not None:
        if pm and hour < 12:
            hour += 12
        elif not pm and hour == 12:
            hour = 0
    if yday >= 0:
        if not 1 <= yday <= (366 if _days_in_month(year, 2) == 29 else 365):
            raise ValueError(f'parsing time "{value}": day-of-year out of range')
        start = _dt.date(year, 1, 1) + _dt.timedelta(days=yday - 1)
        month, day = start.month, start.day
    for name, v, lo, hi in (
        ("month", month, 1, 12),
        ("hour", hour, 0, 23),
        ("minute", minute, 0, 59),
        ("second", second, 0, 59),
    ):
        if not lo <= v <= hi:
            raise ValueError(f'parsing time "{value}": {name} out of range')
    if not 1 <= day <= _days_in_month(year, month):
        raise ValueError(f'parsing time "{value}": day out of range')
    tz: _dt.tzinfo = loc
    if offset is not None:
        tz = _UTC if offset == 0 else _dt.timezone(_dt.timedelta(seconds=offset))
    civil = _dt.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    return GoTime.from_datetime(civil).Add(GoDuration(nsec))
