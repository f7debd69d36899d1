"""Flap detection: weighted percent change, start/stop thresholds, one state."""

from __future__ import annotations

import pytest

from tocsin.clock import FakeClock
from tocsin.detect.config import DetectionConfig
from tocsin.detect.detector import Detector
from tocsin.detect.flapping import FlapScorer

from .helpers import config, feed


def bits_of(results: str) -> tuple[int, int]:
    """Oldest first, '-' failed: the detector's newest-at-bit-0 encoding."""
    bits = 0
    for ch in results:
        bits = (bits << 1) | (ch == "-")
    return bits, len(results)


def reference_percent(results: str, window: int = 21) -> float:
    """The textbook formula, written as plainly as possible."""
    last = results[-window:]
    slots = window - 1
    # position 1 is the oldest possible change in a full window
    offset = window - len(last)
    total = 0.0
    for i in range(1, len(last)):
        if last[i] != last[i - 1]:
            position = offset + i  # 1..slots
            total += 0.75 + (position - 1) * 0.5 / (slots - 1)
    return total * 100.0 / slots


SCORE_CASES = [
    ("steady", "+" * 21),
    ("all changes", "+-" * 10 + "+"),
    ("newest change only", "+" * 20 + "-"),
    ("oldest change only", "-" + "+" * 20),
    ("short history", "+-+"),
    ("longer than window", "-+" * 15),
    ("mixed", "++--+-+++--+-+-----++"),
]


@pytest.mark.parametrize("results", [c[1] for c in SCORE_CASES], ids=[c[0] for c in SCORE_CASES])
def test_percent_matches_reference(results: str) -> None:
    bits, count = bits_of(results)
    assert FlapScorer(21).percent(bits, count) == pytest.approx(reference_percent(results))


def test_weights_span_three_quarters_to_one_and_a_quarter() -> None:
    scorer = FlapScorer(21)
    newest = scorer.percent(*bits_of("+" * 20 + "-"))
    oldest = scorer.percent(*bits_of("-" + "+" * 20))
    assert (newest, oldest) == (pytest.approx(1.25 * 100 / 20), pytest.approx(0.75 * 100 / 20))
    assert scorer.percent(*bits_of("+-" * 10 + "+")) == pytest.approx(100.0)


@pytest.mark.parametrize("window", [3, 8, 9, 21, 64])
def test_other_windows(window: int) -> None:
    results = ("+-+" * 30)[: window + 3]
    bits, count = bits_of(results)
    assert FlapScorer(window).percent(bits, count) == pytest.approx(
        reference_percent(results, window)
    )


def flap_config(**flapping: object) -> DetectionConfig:
    return config(
        flapping={"enabled": True, **flapping},
        confirm=[{"default": True, "down_after": {"failures": 1, "of": 1}, "up_after": 1}],
    )


def test_flapping_is_one_state_not_a_storm(clock: FakeClock) -> None:
    d = Detector(flap_config(), clock)
    states, outcomes = feed(d, clock, "+-+-+-+-+-+-")
    news = [c.new.value for o in outcomes for c in o.changes]
    # up, down, up, down... until the weighted change passes 30%, then one state.
    assert "F" in states
    first = states.index("F")
    assert set(states[first:]) == {"F"}
    assert news[-1] == "flapping"
    assert news.count("flapping") == 1
    pct = FlapScorer().percent(*bits_of("+-+-+-+-+-+-"[: first + 1]))
    assert pct >= 30 > FlapScorer().percent(*bits_of("+-+-+-+-+-+-"[:first]))
    assert outcomes[first].changes[0].reason.startswith("flapping: ")


def test_flapping_stops_at_low_threshold(clock: FakeClock) -> None:
    d = Detector(flap_config(), clock)
    results = "+-+-+-+-+-" + "+" * 20
    states, outcomes = feed(d, clock, results)
    stop = states.rindex("F") + 1
    assert states[stop:] == "U" * (len(results) - stop)
    # It stopped at the first result where the score fell to <= 20, not before.
    assert FlapScorer().percent(*bits_of(results[: stop + 1])) <= 20
    assert FlapScorer().percent(*bits_of(results[:stop])) > 20
    assert outcomes[stop].changes[0].reason.startswith("stopped flapping: ")


def test_hysteresis_between_thresholds(clock: FakeClock) -> None:
    """A score between low and high keeps whatever flapping state there is."""
    d = Detector(flap_config(high=50, low=10), clock)
    states, _ = feed(d, clock, "+-+-+-+-+-+-+-" + "+" * 6)
    assert states.endswith("F")  # still between 10% and 50%


def test_flapping_disabled(clock: FakeClock) -> None:
    d = Detector(config(confirm=[{"default": True, "down_after": {"failures": 1, "of": 1}}]), clock)
    states, _ = feed(d, clock, "+-+-+-+-+-+-")
    assert "F" not in states
