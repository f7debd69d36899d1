from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.timeintervals import (
    TimeIntervals,
    parse_day_of_month_range,
    parse_month_range,
    parse_time_of_day,
    parse_weekday_range,
    parse_year_range,
)

CONFIG = """
route: {receiver: a}
receivers: [{name: a}]
time_intervals:
  - name: office
    time_intervals:
      - times: [{start_time: "09:00", end_time: "17:00"}]
        weekdays: ["monday:friday"]
        location: Europe/Stockholm
  - name: month-end
    time_intervals:
      - days_of_month: ["-3:-1"]
  - name: first-and-fifteenth
    time_intervals:
      - days_of_month: ["1", "15"]
  - name: summer-2026
    time_intervals:
      - months: ["june:August"]
        years: ["2026"]
  - name: day-31
    time_intervals:
      - days_of_month: ["31"]
  - name: evening-or-weekend
    time_intervals:
      - times: [{start_time: "18:00", end_time: "24:00"}]
      - weekdays: [saturday, sunday]
mute_time_intervals:
  - name: legacy
    time_intervals:
      - weekdays: [wednesday]
"""


@pytest.fixture(scope="module")
def intervals() -> TimeIntervals:
    return TimeIntervals(parse_alertmanager_config(CONFIG).named_time_intervals())


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


def sthlm(*args: int) -> float:
    return datetime(*args, tzinfo=ZoneInfo("Europe/Stockholm")).timestamp()  # type: ignore[misc]


CASES = [
    ("office", sthlm(2026, 11, 23, 9, 0), True),  # Monday 09:00 local
    ("office", sthlm(2026, 11, 23, 16, 59), True),
    ("office", sthlm(2026, 11, 23, 17, 0), False),  # end is exclusive
    ("office", sthlm(2026, 11, 23, 8, 59), False),
    ("office", utc(2026, 11, 23, 8, 30), True),  # 09:30 in Stockholm (UTC+1)
    ("office", sthlm(2026, 11, 22, 12, 0), False),  # Sunday
    ("office", sthlm(2026, 7, 3, 9, 30), True),  # Friday, summer time (UTC+2)
    ("month-end", utc(2026, 2, 26, 0, 0), True),  # Feb 2026 has 28 days
    ("month-end", utc(2026, 2, 25, 23, 59), False),
    ("month-end", utc(2026, 3, 29, 12, 0), True),
    ("month-end", utc(2026, 3, 28, 12, 0), False),
    ("first-and-fifteenth", utc(2026, 5, 15, 3, 0), True),
    ("first-and-fifteenth", utc(2026, 5, 2, 3, 0), False),
    ("summer-2026", utc(2026, 8, 31, 23, 59), True),
    ("summer-2026", utc(2027, 7, 1), False),
    ("summer-2026", utc(2026, 5, 31), False),
    ("day-31", utc(2026, 1, 31), True),
    ("day-31", utc(2026, 4, 30), False),  # never matches in a 30-day month
    ("evening-or-weekend", utc(2026, 11, 23, 23, 59), True),
    ("evening-or-weekend", utc(2026, 11, 28, 10, 0), True),  # Saturday
    ("evening-or-weekend", utc(2026, 11, 23, 10, 0), False),
    ("legacy", utc(2026, 11, 25, 10, 0), True),  # Wednesday, default UTC
]


@pytest.mark.parametrize(("name", "t", "active"), CASES)
def test_active(intervals: TimeIntervals, name: str, t: float, active: bool) -> None:
    assert intervals.active(name, t) is active


def test_unknown_name(intervals: TimeIntervals) -> None:
    with pytest.raises(KeyError, match="doesn't exist"):
        intervals.active("nope", 0)


@pytest.mark.parametrize(
    ("text", "minutes"), [("00:00", 0), ("09:30", 570), ("23:59", 1439), ("24:00", 1440)]
)
def test_time_of_day(text: str, minutes: int) -> None:
    assert parse_time_of_day(text) == minutes


@pytest.mark.parametrize(
    ("parser", "text", "message"),
    [
        (parse_time_of_day, "24:01", "invalid format"),
        (parse_time_of_day, "9:00", "invalid format"),
        (parse_weekday_range, "friday:monday", "start day cannot be after end day"),
        (parse_weekday_range, "someday", "not a valid weekday"),
        (parse_day_of_month_range, "0", "out of range"),
        (parse_day_of_month_range, "32", "out of range"),
        (parse_day_of_month_range, "-1:5", "end day must be negative"),
        (parse_day_of_month_range, "20:-20", "always before start day"),
        (parse_month_range, "december:january", "before start month"),
        (parse_month_range, "13", "out of range"),
        (parse_month_range, "smarch", "not a valid month"),
        (parse_year_range, "2027:2026", "before start year"),
        (parse_year_range, "1:2:3", "invalid format"),
    ],
)
def test_range_errors(parser: object, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parser(text)  # type: ignore[operator]


def test_ranges_accept_names_numbers_and_case() -> None:
    assert parse_weekday_range("Monday:FRIDAY") == parse_weekday_range("monday:friday")
    assert parse_month_range("3:5") == parse_month_range("march:may")
    assert parse_day_of_month_range("-7:-1").begin == -7


def test_bad_time_range_in_config_names_field() -> None:
    from tocsin.errors import ConfigError

    text = CONFIG.replace('end_time: "17:00"', 'end_time: "08:00"')
    with pytest.raises(ConfigError, match="start time cannot be equal or greater than end time"):
        parse_alertmanager_config(text)
