"""Go time layouts, durations and float printing, checked against Go's documented outputs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.templating.gofmt import format_float_shortest
from tocsin.templating.gotime import (
    GoDuration,
    GoTime,
    format_duration,
    load_location,
    parse_go_duration,
    parse_time,
)

# 2009-11-10 23:00:00 UTC, the instant of Go's playground examples, plus 123456789 ns.
T = GoTime(1257894000 * 10**9 + 123_456_789)

LAYOUTS: list[tuple[str, str]] = [
    ("2006-01-02 15:04:05.999999999 -0700 MST", "2009-11-10 23:00:00.123456789 +0000 UTC"),
    ("2006-01-02T15:04:05Z07:00", "2009-11-10T23:00:00Z"),
    ("2006-01-02T15:04:05.999999999Z07:00", "2009-11-10T23:00:00.123456789Z"),
    ("Mon Jan _2 15:04:05 2006", "Tue Nov 10 23:00:00 2009"),
    ("Monday, 02-Jan-06 15:04:05 MST", "Tuesday, 10-Nov-09 23:00:00 UTC"),
    ("02 Jan 06 15:04 -0700", "10 Nov 09 23:00 +0000"),
    ("3:04PM", "11:00PM"),
    ("3:04:05.000 pm", "11:00:00.123 pm"),
    ("Jan 2 '06 at 15:04", "Nov 10 '09 at 23:00"),
    ("January 2, 2006", "November 10, 2009"),
    ("2006-01-02 15:04:05,000", "2009-11-10 23:00:00,123"),
    ("05.999 .000", "00.123 .123"),
    ("day 002 of 2006", "day 314 of 2009"),
    ("1/2/06 3:4:5", "11/10/09 11:0:0"),
    ("_2006", "_2009"),
    ("-07:00 Z0700 Z07", "+00:00 Z Z"),
]


@pytest.mark.parametrize(("layout", "expected"), LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_format_layouts(layout: str, expected: str) -> None:
    assert T.Format(layout) == expected


def test_time_zones() -> None:
    stockholm = T.In(load_location("Europe/Stockholm"))
    assert stockholm.Format("2006-01-02 15:04 MST -07:00") == "2009-11-11 00:00 CET +01:00"
    summer = GoTime(1720000000 * 10**9, load_location("Europe/Stockholm"))
    assert summer.Format("15:04 MST Z0700") == "11:46 CEST +0200"
    with pytest.raises(ValueError, match="unknown time zone Nowhere/City"):
        load_location("Nowhere/City")


DURATIONS: list[tuple[int, str]] = [
    (0, "0s"),
    (1, "1ns"),
    (1_100, "1.1µs"),
    (2_200_000, "2.2ms"),
    (3_300_000_000, "3.3s"),
    (4 * 60 * 10**9 + 5 * 10**9, "4m5s"),
    (5 * 3600 * 10**9 + 6 * 60 * 10**9 + 7_001_000_000, "5h6m7.001s"),
    (30 * 60 * 10**9, "30m0s"),
    (3600 * 10**9, "1h0m0s"),
    (-90 * 10**9, "-1m30s"),
    (100 * 3600 * 10**9, "100h0m0s"),
]


@pytest.mark.parametrize(("ns", "expected"), DURATIONS)
def test_duration_string(ns: int, expected: str) -> None:
    assert format_duration(ns) == expected
    assert GoDuration(ns).String() == expected


def test_duration_methods() -> None:
    d = GoDuration(90 * 10**9)
    assert (d.Seconds(), d.Minutes(), d.Milliseconds()) == (90.0, 1.5, 90_000)
    assert d.Round(GoDuration(60 * 10**9)).String() == "2m0s"
    assert d.Truncate(GoDuration(60 * 10**9)).String() == "1m0s"


PROM_DURATIONS: list[tuple[str, float]] = [
    ("0", 0.0),
    ("1h2m10ms", 3720.01),
    ("-1h2m10ms", -3720.01),
    ("1y", 365 * 86400.0),
    ("2w3d", 17 * 86400.0),
    ("90s", 90.0),
]


@pytest.mark.parametrize(("text", "seconds"), PROM_DURATIONS)
def test_prometheus_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1h 2m", "2m1h", "1.5h", "-", "h"])
def test_bad_prometheus_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid duration string"):
        parse_go_duration(text)


PARSES: list[tuple[str, str, str]] = [
    ("2006-01-02", "2024-02-29", "2024-02-29 00:00:00 +0000 UTC"),
    ("2006-01-02T15:04:05Z07:00", "2024-03-01T10:20:30+02:00", "2024-03-01 10:20:30 +0200 +0200"),
    ("2006-01-02T15:04:05Z07:00", "2024-03-01T10:20:30Z", "2024-03-01 10:20:30 +0000 UTC"),
    ("2006-01-02 15:04:05", "2024-03-01 10:20:30.125", "2024-03-01 10:20:30.125 +0000 UTC"),
    ("Jan 2, 2006 at 3:04pm", "Feb 3, 2013 at 7:54pm", "2013-02-03 19:54:00 +0000 UTC"),
    ("02/01/06", "31/12/99", "1999-12-31 00:00:00 +0000 UTC"),
    ("02/01/06", "31/12/68", "2068-12-31 00:00:00 +0000 UTC"),
    ("2006 002", "2024 060", "2024-02-29 00:00:00 +0000 UTC"),
    ("15:04:05.000", "01:02:03.456", "0001-01-01 01:02:03.456 +0000 UTC"),
]


@pytest.mark.parametrize(("layout", "value", "expected"), PARSES, ids=[c[1] for c in PARSES])
def test_parse_time(layout: str, value: str, expected: str) -> None:
    assert parse_time(layout, value).String() == expected


PARSE_ERRORS: list[tuple[str, str, str]] = [
    ("2006-01-02", "x", 'parsing time "x" as "2006-01-02": cannot parse "x" as "2006"'),
    ("2006-01-02", "2023-02-29", 'parsing time "2023-02-29": day out of range'),
    ("2006-01-02", "2023-13-01", 'parsing time "2023-13-01": month out of range'),
    ("2006-01-02", "2024-01-01 extra", 'parsing time "2024-01-01 extra": extra text: " extra"'),
    (
        "15:04:05.000",
        "01:02:03.4",
        'parsing time "01:02:03.4" as "15:04:05.000": cannot parse ".4" as ".000"',
    ),
]


@pytest.mark.parametrize(
    ("layout", "value", "message"), PARSE_ERRORS, ids=[c[1] for c in PARSE_ERRORS]
)
def test_parse_time_errors(layout: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match="parsing time") as info:
        parse_time(layout, value)
    assert str(info.value) == message


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_shortest_float_round_trips(value: float) -> None:
    text = format_float_shortest(value)
    assert float(text) == value
    mantissa = text.lstrip("-").split("e")[0]
    # Go's %v uses as few digits as needed to round-trip, like repr.
    assert len(mantissa.replace(".", "").lstrip("0")) <= len(
        repr(abs(value)).split("e")[0].replace(".", "").lstrip("0")
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (123456.7, "123456.7"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e300, "1.5e+300"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_shortest_float_format(value: float, expected: str) -> None:
    assert format_float_shortest(value) == expected
