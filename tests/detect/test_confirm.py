"""k-of-n confirmation, recovery hysteresis and no-data handling, table-driven."""

from __future__ import annotations

import pytest

from tocsin.clock import FakeClock
from tocsin.detect.detector import Detector
from tocsin.detect.types import TargetState
from tocsin.sources.types import Observation

from .helpers import config, feed

# (name, confirm rule, results, expected states after each sweep)
CASES = [
    ("first up is up", {}, "+", "U"),
    ("no data stays unknown", {}, "???", "uuu"),
    ("failures alone reach down at k", {}, "---", "uuD"),
    ("3 of 5: two failures are a blip", {}, "+--++", "UUUUU"),
    ("3 of 5: third failure in window confirms", {}, "+--+-", "UUUUD"),
    ("3 of 5: failures spread beyond window do not", {}, "+-++-++-", "UUUUUUUU"),
    ("no data between failures is not a failure", {}, "+-?-??+", "UUUUUUU"),
    ("no data does not break a failure streak", {}, "+-?-?-", "UUUUUD"),
    ("recovery needs up_after successes", {}, "+---+", "UUUDD"),
    ("recovery after up_after successes", {}, "+---++", "UUUDDU"),
    ("a failure resets the recovery count", {}, "+---+-++", "UUUDDDDU"),
    ("no data does not count toward recovery", {}, "+---+?+", "UUUDDDU"),
    ("stricter rule: 2 of 3", {"down_after": {"failures": 2, "of": 3}}, "+-+-", "UUUD"),
    ("k=1 of 1 is immediate", {"down_after": {"failures": 1, "of": 1}}, "+-", "UD"),
    ("up_after 1 recovers at once", {"up_after": 1}, "+---+", "UUUDU"),
    ("up_after 4", {"up_after": 4}, "---++++", "uuDDDDU"),
]


@pytest.mark.parametrize(
    ("rule", "results", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_confirmation(clock: FakeClock, rule: dict, results: str, expected: str) -> None:
    d = Detector(config(confirm=[{"default": True, **rule}]), clock)
    states, _ = feed(d, clock, results)
    assert states == expected


def test_rule_selected_by_labels_first_match_wins(clock: FakeClock) -> None:
    cfg = config(
        confirm=[
            {"match": {"importance": "critical"}, "down_after": {"failures": 1, "of": 1}},
            {"match": {"importance": "critical"}, "down_after": {"failures": 5, "of": 5}},
            {"default": True, "down_after": {"failures": 2, "of": 2}},
        ]
    )
    d = Detector(cfg, clock)
    critical, _ = feed(d, clock, "+-", target="a", labels={"importance": "critical"})
    normal, _ = feed(d, clock, "+-", target="b", labels={"importance": "normal"})
    assert (critical, normal) == ("UD", "UU")


def test_rule_selected_by_source(clock: FakeClock) -> None:
    cfg = config(
        confirm=[{"sources": ["other"], "down_after": {"failures": 1, "of": 1}}, {"default": True}]
    )
    d = Detector(cfg, clock)
    states, _ = feed(d, clock, "+-")  # source "fleet": default 3 of 5 applies
    assert states == "UU"


def test_down_reason_and_event(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    _, outcomes = feed(d, clock, "+---")
    change = outcomes[-1].changes[0]
    assert (change.old, change.new) == (TargetState.UP, TargetState.DOWN)
    assert change.reason == "3 of last 5 observations failed"
    assert change.at == clock.now()
    status = d.get("z1")
    assert status is not None
    assert (status.since, status.reason) == (clock.now(), change.reason)


def test_only_changes_are_events(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    _, outcomes = feed(d, clock, "++++----++++")
    news = [c.new.value for o in outcomes for c in o.changes]
    assert news == ["up", "down", "up"]


# (name, sweep results, recheck answer, states after the sweeps, state after recheck)
RECHECK_CASES = [
    ("failed recheck confirms down", "+---", False, "UUUU", "D"),
    ("passed recheck holds up", "+---", True, "UUUU", "U"),
    ("no recheck answer stays suspect", "+---", None, "UUUU", "U"),
]


@pytest.mark.parametrize(
    ("results", "answer", "before", "after"),
    [c[1:] for c in RECHECK_CASES],
    ids=[c[0] for c in RECHECK_CASES],
)
def test_recheck(
    clock: FakeClock, results: str, answer: bool | None, before: str, after: str
) -> None:
    d = Detector(config(), clock)
    states, outcomes = feed(d, clock, results, can_recheck=True)
    assert states == before
    assert [o.recheck for o in outcomes] == [[], [], [], ["z1"]]
    status = d.get("z1")
    assert status is not None
    assert status.suspect
    changes = d.observe_recheck("fleet", [Observation("z1", answer, clock.now())])
    assert [c.new.value for c in changes] == ([] if after == "U" else ["down"])
    if changes:
        assert changes[0].reason.endswith("; recheck failed")
    assert status.suspect is (answer is None)


def test_recheck_disabled_by_config(clock: FakeClock) -> None:
    d = Detector(config(recheck=False), clock)
    states, outcomes = feed(d, clock, "+---", can_recheck=True)
    assert states == "UUUD"
    assert all(not o.recheck for o in outcomes)


def test_suspect_relisted_while_threshold_holds(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    _, outcomes = feed(d, clock, "+----", can_recheck=True)
    assert [o.recheck for o in outcomes[-2:]] == [["z1"], ["z1"]]


def test_suspicion_clears_when_threshold_no_longer_holds(clock: FakeClock) -> None:
    d = Detector(config(confirm=[{"default": True, "down_after": {"failures": 2, "of": 2}}]), clock)
    feed(d, clock, "+--", can_recheck=True)
    status = d.get("z1")
    assert status is not None
    assert status.suspect
    feed(d, clock, "+", can_recheck=True)
    assert not status.suspect


def test_recheck_of_unknown_target_is_counted_not_guessed(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    feed(d, clock, "+---", can_recheck=True)
    changes = d.observe_recheck(
        "fleet",
        [Observation("nope", False, clock.now()), Observation("z1", False, clock.now())],
    )
    assert [(c.target_id, c.new.value) for c in changes] == [("z1", "down")]
    assert d.get("nope") is None
    assert d.decisions["recheck_unknown_target"] == 1
    assert d.observe_recheck("other-source", [Observation("z1", True, clock.now())]) == []
    assert d.decisions["recheck_unknown_target"] == 2


def test_unknown_after(clock: FakeClock) -> None:
    d = Detector(config(unknown_after=150), clock)
    states, outcomes = feed(d, clock, "+???+")
    # t=60 up; no data at 120, 180; at 240 it is 180 s since the last usable result.
    assert states == "UUUuU"
    assert outcomes[3].changes[0].reason == "no usable observation for 150s"


def test_labels_follow_the_source(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    feed(d, clock, "+", labels={"zone": "z1", "importance": "normal"})
    feed(d, clock, "+", labels={"zone": "z1", "importance": "critical"})
    status = d.get("z1")
    assert status is not None
    assert status.labels == {"zone": "z1", "importance": "critical"}


def test_forget(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    feed(d, clock, "+")
    assert d.forget("z1")
    assert d.get("z1") is None
    assert not d.forget("z1")
    assert d.source_states()[0].targets == 0
