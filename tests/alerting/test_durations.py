from __future__ import annotations

import pytest

from tocsin.alerting.config.durations import (
    format_prom_duration,
    parse_go_duration,
    parse_prom_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("4h", 14400),
        ("1d", 86400),
        ("1w", 604800),
        ("1y", 365 * 86400),
        ("1d2h3m4s5ms", 86400 + 7200 + 180 + 4.005),
        ("0", 0),
        ("0s", 0),
    ],
)
def test_prometheus_durations(text: str, seconds: float) -> None:
    assert parse_prom_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1.5h", "5 m", "m", "1m1h", "-1s", "1M"])
def test_bad_prometheus_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid duration"):
        parse_prom_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1.5s", 1.5), ("300ms", 0.3), ("1h2m", 3720), ("0", 0), ("10us", 1e-5), ("-2s", -2)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1d", "s", "1.2.3s"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(14400, "4h"), (90, "1m30s"), (0, "0s"), (86400 * 8, "1w1d")]
)
def test_format(seconds: float, text: str) -> None:
    assert format_prom_duration(seconds) == text
    assert parse_prom_duration(text) == seconds
