"""Invariants of detection over arbitrary result sequences (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.clock import FakeClock
from tocsin.detect.detector import Detector
from tocsin.detect.types import TargetState
from tocsin.sources.types import Observation

from .helpers import config, feed
from .test_flapping import reference_percent

results = st.text(alphabet="+-?", max_size=60)


@st.composite
def rules(draw: st.DrawFn) -> dict[str, object]:
    of = draw(st.integers(1, 10))
    failures = draw(st.integers(1, of))
    return {
        "default": True,
        "down_after": {"failures": failures, "of": of},
        "up_after": draw(st.integers(1, 6)),
    }


@settings(max_examples=300, deadline=None)
@given(rule=rules(), seq=results, flapping=st.booleans(), recheck=st.booleans())
def test_never_down_without_k_of_n_failures(
    rule: dict, seq: str, flapping: bool, recheck: bool
) -> None:
    clock = FakeClock()
    d = Detector(config(confirm=[rule], flapping={"enabled": flapping}), clock)
    k, n = rule["down_after"]["failures"], rule["down_after"]["of"]
    usable = ""
    for ch in seq:
        before = d.get("z1")
        old = before.state if before else TargetState.UNKNOWN
        _, outs = feed(d, clock, ch, can_recheck=recheck)
        if ch != "?":
            usable += ch
        if outs[0].recheck:
            # a failing re-check is itself a failed observation
            d.observe_recheck("fleet", [Observation("z1", False, clock.now())])
            usable += "-"
        status = d.get("z1")
        assert status is not None
        if status.state is TargetState.DOWN and old is not TargetState.DOWN:
            assert usable[-n:].count("-") >= k, (usable, status.reason)


@settings(max_examples=300, deadline=None)
@given(rule=rules(), seq=st.text(alphabet="+?", max_size=60), flapping=st.booleans())
def test_no_failures_never_down(rule: dict, seq: str, flapping: bool) -> None:
    clock = FakeClock()
    d = Detector(config(confirm=[rule], flapping={"enabled": flapping}), clock)
    states, _ = feed(d, clock, seq)
    assert "D" not in states
    assert "F" not in states
    expected_first_up = seq.find("+")
    if expected_first_up < 0:
        assert set(states) <= {"u"}
    else:
        assert states == "u" * expected_first_up + "U" * (len(seq) - expected_first_up)


@settings(max_examples=300, deadline=None)
@given(
    seq=st.text(alphabet="+-?", max_size=80),
    high=st.integers(10, 90),
    gap=st.integers(1, 9),
)
def test_flapping_thresholds(seq: str, high: int, gap: int) -> None:
    low = high - gap
    clock = FakeClock()
    d = Detector(config(flapping={"enabled": True, "high": high, "low": low}), clock)
    usable = ""
    flapping = False
    for ch in seq:
        feed(d, clock, ch)
        status = d.get("z1")
        assert status is not None
        if ch == "?":
            assert status.flapping is flapping  # no data never moves the score
            continue
        usable += ch
        pct = round(reference_percent(usable), 1)
        if status.flapping and not flapping:
            assert pct >= high
        elif flapping and not status.flapping:
            assert pct <= low
        elif flapping:
            assert pct > low
        else:
            assert pct < high
        flapping = status.flapping


@settings(max_examples=150, deadline=None)
@given(rule=rules(), before=results, after=results, flapping=st.booleans())
def test_restored_detector_behaves_the_same(
    rule: dict, before: str, after: str, flapping: bool
) -> None:
    cfg = config(confirm=[rule], flapping={"enabled": flapping})
    clock = FakeClock()
    first = Detector(cfg, clock)
    feed(first, clock, before)
    second = Detector(cfg, clock)
    snap = first.export()
    second.restore(snap.targets, snap.sources)
    a, _ = feed(first, clock, after)
    b, _ = feed(second, clock, after)
    assert a == b
