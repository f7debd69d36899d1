"""Target state written as series: samples per state, staleness at changes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from tocsin.detect.types import TargetState
from tocsin.runtime.target_series import TargetSeriesWriter
from tocsin.tsdb.db import TSDB
from tocsin.tsdb.types import LabelMatcher, MatchOp, is_stale


@dataclass
class T:
    target_id: str
    state: TargetState
    source: str = "fleet"
    labels: Mapping[str, str] = field(default_factory=lambda: {"venue": "v1"})
    latency: float | None = 0.02
    fields: Mapping[str, float] = field(default_factory=lambda: {"volume": 40.0})


def _samples(db: TSDB, name: str) -> list[float]:
    [series] = db.select([LabelMatcher("__name__", MatchOp.EQ, name)], 0, 10**13)
    return [
        math.inf if is_stale(series.values[i : i + 1])[0] else float(series.values[i])
        for i in range(len(series.values))
    ]


def test_states_become_samples_and_changes_end_series() -> None:
    db = TSDB(None)
    w = TargetSeriesWriter(db)
    sequence = [TargetState.UP, TargetState.DOWN, TargetState.FLAPPING, TargetState.UP]
    for i, state in enumerate(sequence):
        w.write([T("z1", state)], 1000 * (i + 1))
    # up: 1, 0, stale (flapping has no up sample), 1; math.inf marks a staleness marker.
    assert _samples(db, "tocsin_target_up") == [1.0, 0.0, math.inf, 1.0]
    assert _samples(db, "tocsin_target_flapping") == [1.0, math.inf]
    assert _samples(db, "tocsin_target_volume") == [40.0] * 4
    [series] = db.select([LabelMatcher("__name__", MatchOp.EQ, "tocsin_target_up")], 0, 10**13)
    assert dict(series.labels) == {
        "__name__": "tocsin_target_up",
        "venue": "v1",
        "target": "z1",
        "source": "fleet",
    }


def test_unknown_targets_write_no_up_series() -> None:
    db = TSDB(None)
    TargetSeriesWriter(db).write([T("z1", TargetState.UNKNOWN, latency=None, fields={})], 1000)
    assert db.select([LabelMatcher("__name__", MatchOp.EQ, "tocsin_target_up")], 0, 10**13) == []


def test_relabelled_target_ends_old_series_and_starts_new() -> None:
    db = TSDB(None)
    w = TargetSeriesWriter(db)
    w.write([T("z1", TargetState.UP, fields={})], 1000)
    w.write([T("z1", TargetState.UP, labels={"venue": "v2"}, fields={})], 2000)
    up = LabelMatcher("__name__", MatchOp.EQ, "tocsin_target_up")
    by_venue = {
        s.labels["venue"]: [bool(x) for x in is_stale(s.values)] for s in db.select([up], 0, 10**13)
    }
    assert by_venue == {"v1": [False, True], "v2": [False]}


def _up_series(db: TSDB) -> dict[str, list[bool]]:
    up = LabelMatcher("__name__", MatchOp.EQ, "tocsin_target_up")
    return {
        f"{s.labels['target']}/{s.labels['venue']}": [bool(x) for x in is_stale(s.values)]
        for s in db.select([up], 0, 10**13)
    }


def test_same_labels_in_another_order_keep_the_series() -> None:
    db = TSDB(None)
    w = TargetSeriesWriter(db)
    w.write([T("z1", TargetState.UP, labels={"venue": "v1", "region": "eu"})], 1000)
    w.write([T("z1", TargetState.UP, labels={"region": "eu", "venue": "v1"})], 2000)
    # The writer's own labels (target, source) override the target's: no relabel either.
    w.write([T("z1", TargetState.UP, labels={"region": "eu", "venue": "v1", "target": "x"})], 3000)
    assert _up_series(db) == {"z1/v1": [False, False, False]}


def test_forgotten_target_frees_its_slot_for_a_new_one() -> None:
    db = TSDB(None)
    w = TargetSeriesWriter(db)
    w.write([T("z1", TargetState.FLAPPING)], 1000)
    assert w.forget("fleet", "z1", 2000) == 3  # flapping, latency, volume end
    assert w.forget("fleet", "z1", 2500) == 0
    # z2 takes z1's slot: it must not inherit z1's refs or its last state.
    w.write([T("z2", TargetState.UP, labels={"venue": "v2"})], 3000)
    assert len(w) == 1
    assert _up_series(db) == {"z2/v2": [False]}
    assert _samples(db, "tocsin_target_flapping") == [1.0, math.inf]
    w.write([T("z2", TargetState.DOWN, labels={"venue": "v2"})], 4000)
    assert _samples(db, "tocsin_target_flapping") == [1.0, math.inf]
    assert _up_series(db) == {"z2/v2": [False, False]}


@dataclass
class Shared(T):
    """A status that hands out its label tuple, as the detector's does."""

    label_tuple: tuple[object, ...] = ()

    def __post_init__(self) -> None:
        self.label_tuple = (tuple(self.labels), *self.labels.values())


def test_a_shared_label_tuple_is_kept_not_copied() -> None:
    db = TSDB(None)
    w = TargetSeriesWriter(db)
    first = Shared("z1", TargetState.UP)
    w.write([first], 1000)
    assert w._labels[0] is first.label_tuple
    # An equal tuple from another object (a restarted detector) keeps the series.
    w.write([Shared("z1", TargetState.UP)], 2000)
    w.write([Shared("z1", TargetState.UP, labels={"venue": "v2"})], 3000)
    assert _up_series(db) == {"z1/v1": [False, False, True], "z1/v2": [False]}
