"""Opening hours: down outside hours is expected_off, in the target's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tocsin.clock import FakeClock
from tocsin.detect.detector import Detector
from tocsin.detect.hours import parse_hours
from tocsin.detect.types import TargetState

from .helpers import config, sweep_of

STOCKHOLM = ZoneInfo("Europe/Stockholm")
HOURS = {"mon-fri": "08:00-23:00", "sat-sun": "10:00-23:00"}


def at(text: str, zone: ZoneInfo = STOCKHOLM) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def detector(clock: FakeClock, **schedule: object) -> Detector:
    return Detector(
        config(
            confirm=[{"default": True, "down_after": {"failures": 1, "of": 1}, "up_after": 1}],
            schedules=[{"hours": HOURS, **schedule}],
        ),
        clock,
    )


def observe(
    d: Detector,
    clock: FakeClock,
    when: float,
    results: dict[str, bool | None],
    labels: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    clock.set(when)
    out = d.observe_sweep(sweep_of(clock, results, labels=labels))
    return [c.new.value for c in out.changes]


# 2026-11-23 is a Monday, 2026-11-28 a Saturday.
CASES = [
    ("weekday inside hours", "2026-11-23T12:00", False, TargetState.DOWN),
    ("weekday before opening", "2026-11-23T07:59", False, TargetState.EXPECTED_OFF),
    ("weekday at closing time", "2026-11-23T23:00", False, TargetState.EXPECTED_OFF),
    ("weekday last open minute", "2026-11-23T22:59", False, TargetState.DOWN),
    ("saturday 09:00 is closed", "2026-11-28T09:00", False, TargetState.EXPECTED_OFF),
    ("saturday 10:00 is open", "2026-11-28T10:00", False, TargetState.DOWN),
    ("up outside hours stays up", "2026-11-23T03:00", True, TargetState.UP),
]


@pytest.mark.parametrize(
    ("local", "up", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fixed_zone(clock: FakeClock, local: str, up: bool, expected: TargetState) -> None:
    d = detector(clock, timezone="Europe/Stockholm")
    observe(d, clock, at(local), {"z1": up})
    status = d.get("z1")
    assert status is not None
    assert status.state is expected
    if expected is TargetState.EXPECTED_OFF:
        assert status.reason.startswith("outside opening hours (mon-fri 08:00-23:00")
        assert status.reason.endswith("1 of last 1 observations failed")


def test_zone_from_label(clock: FakeClock) -> None:
    d = detector(clock, timezone_label="tz")
    labels = {
        "sto": {"tz": "Europe/Stockholm"},
        "nyc": {"tz": "America/New_York"},
        "bad": {"tz": "Mars/Olympus"},
        "none": {},
    }
    # 07:00 in New York is 13:00 in Stockholm.
    observe(
        d,
        clock,
        at("2026-11-23T07:00", ZoneInfo("America/New_York")),
        dict.fromkeys(labels, False),
        labels,
    )
    got = {s.target_id: s.state for s in d.statuses()}
    assert got == {
        "sto": TargetState.DOWN,
        "nyc": TargetState.EXPECTED_OFF,
        "bad": TargetState.DOWN,  # unknown zone: never hide a down target
        "none": TargetState.DOWN,
    }


def test_opening_turns_expected_off_into_down(clock: FakeClock) -> None:
    d = detector(clock, timezone="Europe/Stockholm")
    assert observe(d, clock, at("2026-11-23T07:00"), {"z1": False}) == ["expected_off"]
    assert observe(d, clock, at("2026-11-23T07:59"), {"z1": False}) == []
    assert observe(d, clock, at("2026-11-23T08:00"), {"z1": False}) == ["down"]
    assert observe(d, clock, at("2026-11-23T23:00"), {"z1": False}) == ["expected_off"]
    assert observe(d, clock, at("2026-11-23T23:30"), {"z1": True}) == ["up"]


def test_schedule_selector(clock: FakeClock) -> None:
    d = detector(clock, timezone="Europe/Stockholm", match={"importance": "back-office"})
    labels = {"bo": {"importance": "back-office"}, "crit": {"importance": "critical"}}
    observe(d, clock, at("2026-11-23T03:00"), {"bo": False, "crit": False}, labels)
    got = {s.target_id: s.state for s in d.statuses()}
    assert got == {"bo": TargetState.EXPECTED_OFF, "crit": TargetState.DOWN}


def test_flapping_outside_hours_is_expected_off(clock: FakeClock) -> None:
    d = Detector(
        config(
            flapping={"enabled": True},
            confirm=[{"default": True, "down_after": {"failures": 1, "of": 1}, "up_after": 1}],
            schedules=[{"hours": HOURS, "timezone": "Europe/Stockholm"}],
        ),
        clock,
    )
    start = at("2026-11-23T01:00")
    for i in range(12):
        observe(d, clock, start + 60 * i, {"z1": i % 2 == 0})
    status = d.get("z1")
    assert status is not None
    assert status.flapping
    assert status.state is TargetState.EXPECTED_OFF


# (spec, (weekday, "HH:MM") -> open?)
HOURS_CASES = [
    ({"mon": "22:00-02:00"}, {(0, "23:00"): True, (1, "01:59"): True, (1, "02:00"): False}),
    ({"sun": "22:00-02:00"}, {(0, "01:00"): True, (6, "21:59"): False}),
    ({"fri-mon": "09:00-17:00"}, {(4, "09:00"): True, (0, "16:59"): True, (2, "12:00"): False}),
    ({"mon,wed": "00:00-24:00"}, {(0, "00:00"): True, (2, "23:59"): True, (1, "12:00"): False}),
    ({"tue": "08:00-12:00,13:00-17:00"}, {(1, "12:30"): False, (1, "13:00"): True}),
    ({"mon-sun": "closed"}, {(3, "12:00"): False}),
]


@pytest.mark.parametrize(("spec", "checks"), HOURS_CASES)
def test_parse_hours(spec: dict[str, str], checks: dict[tuple[int, str], bool]) -> None:
    hours = parse_hours(spec)
    for (weekday, hhmm), expected in checks.items():
        # 2026-11-23 is a Monday
        local = datetime.fromisoformat(f"2026-11-{23 + weekday}T{hhmm}")
        assert hours.is_open(local) is expected, (weekday, hhmm)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"mon-fry": "08:00-23:00"}, "unknown day range 'mon-fry'"),
        ({"funday": "08:00-23:00"}, "unknown day 'funday'"),
        ({"mon": "8-23"}, "bad time '8', expected HH:MM"),
        ({"mon": "08:00"}, "bad range '08:00'"),
        ({"mon": "08:00-25:00"}, "bad time '25:00'"),
        ({"mon": "08:61-09:00"}, "bad time '08:61'"),
        ({"mon": "24:00-09:00"}, "bad time '24:00'"),
        ({"mon": "08:00-08:00"}, "empty range"),
    ],
)
def test_bad_hours(spec: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hours(spec)
