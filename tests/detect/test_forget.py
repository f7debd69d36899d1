"""Targets a source stops listing are dropped after `forget_after`."""

from __future__ import annotations

from dataclasses import replace

from tocsin.clock import FakeClock
from tocsin.detect.detector import Detector
from tocsin.detect.types import TargetState

from .helpers import INTERVAL, config, sweep_of


def _sweep(d: Detector, clock: FakeClock, ids: str, *, complete: bool = True) -> list[str]:
    """One sweep listing the targets in `ids` (all up); returns the forgotten ids."""
    clock.set(clock.now() + INTERVAL)
    sweep = replace(sweep_of(clock, dict.fromkeys(ids, True)), complete=complete)
    return [c.target_id for c in d.observe_sweep(sweep).forgotten]


def test_unlisted_target_is_forgotten_after_the_grace(clock: FakeClock) -> None:
    d = Detector(config(forget_after=3 * INTERVAL), clock)
    assert _sweep(d, clock, "abc") == []
    assert _sweep(d, clock, "ab") == []  # c missing since now
    assert _sweep(d, clock, "ab") == []
    assert _sweep(d, clock, "ab") == []
    assert d.get("c") is not None
    clock.set(clock.now() + INTERVAL)
    outcome = d.observe_sweep(sweep_of(clock, {"a": True, "b": True}))
    [gone] = outcome.forgotten
    assert (gone.target_id, gone.kind, gone.old, gone.new) == (
        "c",
        "forgotten",
        TargetState.UP,
        TargetState.UNKNOWN,
    )
    assert "not listed by fleet for 180s" in gone.reason
    assert d.get("c") is None
    assert d.source_states()[0].targets == 2
    assert d.decisions["forgotten"] == 1


def test_a_target_listed_again_starts_the_grace_anew(clock: FakeClock) -> None:
    d = Detector(config(forget_after=2 * INTERVAL), clock)
    _sweep(d, clock, "ab")
    _sweep(d, clock, "a")
    _sweep(d, clock, "ab")  # back: the missing clock resets
    _sweep(d, clock, "a")
    assert _sweep(d, clock, "a") == []
    assert _sweep(d, clock, "a") == ["b"]


def test_incomplete_or_failed_sweeps_never_forget(clock: FakeClock) -> None:
    d = Detector(config(forget_after=INTERVAL), clock)
    _sweep(d, clock, "ab")
    for _ in range(5):
        assert _sweep(d, clock, "a", complete=False) == []
        clock.set(clock.now() + INTERVAL)
        d.observe_sweep(sweep_of(clock, {}, ok=False))
    assert d.get("b") is not None


def test_forget_after_null_keeps_targets(clock: FakeClock) -> None:
    d = Detector(config(forget_after=None), clock)
    _sweep(d, clock, "ab")
    for _ in range(50):
        assert _sweep(d, clock, "a") == []
    assert d.get("b") is not None


def test_other_sources_targets_are_not_missing(clock: FakeClock) -> None:
    d = Detector(config(forget_after=INTERVAL), clock)
    _sweep(d, clock, "ab")
    clock.set(clock.now() + INTERVAL)
    d.observe_sweep(sweep_of(clock, {"x": True}, source="other"))
    for _ in range(3):
        assert _sweep(d, clock, "ab") == []
    assert d.get("x") is not None
