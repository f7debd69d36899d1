"""Export and restore: a new detector carries on silently where the old one was."""

from __future__ import annotations

import pytest

from tocsin.clock import FakeClock
from tocsin.detect.detector import Detector
from tocsin.detect.types import SourceState

from .helpers import config, feed, sweep_of


def test_restore_keeps_states_reasons_and_history(clock: FakeClock) -> None:
    cfg = config(flapping={"enabled": True})
    old = Detector(cfg, clock)
    feed(old, clock, "+---", target="down")
    feed(old, clock, "+++", target="up")
    feed(old, clock, "+-+-+-+-+-+-+-+-", target="flappy")
    feed(old, clock, "+--", target="suspect", can_recheck=True)
    clock.set(clock.now() + 60)
    old.observe_sweep(sweep_of(clock, {"x": True}, source="broken", ok=False))

    new = Detector(cfg, clock)
    snap = old.export()
    new.restore(snap.targets, snap.sources)

    def view(d: Detector) -> dict[str, tuple]:
        return {
            s.target_id: (s.state, s.since, s.reason, s.labels, s.detail, s.last_observed)
            for s in d.statuses()
        }

    assert view(new) == view(old)
    assert {s.state for s in old.statuses()} >= {"down", "up", "flapping"}
    assert [(s.source, s.state, s.targets) for s in new.source_states()] == [
        (s.source, s.state, s.targets) for s in old.source_states()
    ]
    assert new.source_states()[-1].state is SourceState.DEGRADED


def test_restore_without_detail_derives_base_state(clock: FakeClock) -> None:
    class Row:
        target_id = "z1"
        source = "fleet"
        labels = {"zone": "z1"}
        state = "down"
        since = 5.0
        reason = "saved"
        last_observed = 4.0
        latency = None
        fields = {}
        detail = {}

    d = Detector(config(), clock)
    d.restore([Row()])
    # Down with no history: needs up_after (2) successes to recover.
    states, outs = feed(d, clock, "++")
    assert states == "DU"
    assert outs[0].changes == []


def test_restore_rejects_unknown_state(clock: FakeClock) -> None:
    class Row:
        target_id = "z1"
        source = "fleet"
        labels = {}
        state = "sideways"
        since = 5.0
        reason = ""
        last_observed = None
        latency = None
        fields = {}
        detail = {}

    with pytest.raises(ValueError, match="'z1': unknown saved state 'sideways'"):
        Detector(config(), clock).restore([Row()])


def test_reconfigure_reselects_rules(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    feed(d, clock, "+-")
    d.reconfigure(config(confirm=[{"default": True, "down_after": {"failures": 2, "of": 2}}]))
    states, _ = feed(d, clock, "-")
    assert states == "D"


def test_take_dirty_lists_what_changed(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    feed(d, clock, "+", target="a")
    feed(d, clock, "+", target="b")
    assert sorted(s.target_id for s in d.take_dirty()) == ["a", "b"]  # new targets
    assert d.take_dirty() == []
    feed(d, clock, "++--", target="a")  # histories move, nothing to save
    assert d.take_dirty() == []
    feed(d, clock, "-", target="a")  # down
    feed(d, clock, "+", target="b", labels={"zone": "b", "new": "label"})
    assert sorted(s.target_id for s in d.take_dirty()) == ["a", "b"]


def test_take_dirty_lists_each_target_once_and_never_a_forgotten_one(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    feed(d, clock, "+", target="a")
    feed(d, clock, "+", target="b")
    feed(d, clock, "+", target="a", labels={"zone": "a", "new": "label"})  # new, then relabelled
    assert d.forget("b")
    assert [s.target_id for s in d.take_dirty()] == ["a"]
    feed(d, clock, "+", target="b")  # back, as a new target
    assert [s.target_id for s in d.take_dirty()] == ["b"]


def test_restore_over_a_queued_target_keeps_it_queued(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    feed(d, clock, "+---", target="a")
    saved = d.export().targets
    d.restore(saved)
    assert [s.target_id for s in d.take_dirty()] == ["a"]
    d.restore(saved)
    assert d.take_dirty() == []


def test_reconfigure_to_a_shorter_history_trims_it(clock: FakeClock) -> None:
    long = config(confirm=[{"default": True, "down_after": {"failures": 30, "of": 30}}])
    d = Detector(long, clock)
    feed(d, clock, "+" * 32)
    status = d.get("z1")
    assert status is not None
    assert status.detail["count"] == 30
    d.reconfigure(config())  # the flap window's 21 results are the longest need now
    assert status.detail["count"] == 21
    assert (status.state, status.detail["base"], status.flapping) == ("up", "up", False)
