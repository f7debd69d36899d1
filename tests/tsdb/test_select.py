from __future__ import annotations

import numpy as np
import pytest

from tocsin.tsdb.db import TSDB
from tocsin.tsdb.types import STALE_NAN, LabelMatcher, MatchOp, is_stale

EQ, NE, RE, NRE = MatchOp.EQ, MatchOp.NE, MatchOp.RE, MatchOp.NRE

SERIES = [
    {"__name__": "zone_up", "venue": "v1", "zone": "lobby", "importance": "high"},
    {"__name__": "zone_up", "venue": "v1", "zone": "bar"},
    {"__name__": "zone_up", "venue": "v2", "zone": "lobby", "importance": "low"},
    {"__name__": "zone_latency", "venue": "v2", "zone": "lobby"},
]


@pytest.fixture
def db() -> TSDB:
    db = TSDB().open()
    for i, lb in enumerate(SERIES):
        for k in range(5):
            db.append(lb, 1000 * k, float(i * 10 + k))
    return db


def _m(name: str, op: MatchOp, value: str) -> LabelMatcher:
    return LabelMatcher(name, op, value)


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        ([_m("__name__", EQ, "zone_up")], [0, 1, 2]),
        ([_m("__name__", EQ, "zone_up"), _m("venue", NE, "v1")], [2]),
        ([_m("zone", RE, "lob.*")], [0, 2, 3]),
        ([_m("zone", RE, "lob")], []),  # anchored
        ([_m("__name__", RE, "zone_.*"), _m("zone", NRE, "lobby|x")], [1]),
        ([_m("__name__", EQ, "zone_up"), _m("importance", EQ, "")], [1]),  # label absent
        ([_m("__name__", EQ, "zone_up"), _m("importance", NE, "")], [0, 2]),
        ([_m("__name__", EQ, "zone_up"), _m("importance", RE, "high|")], [0, 1]),
        ([_m("__name__", EQ, "zone_up"), _m("importance", NRE, "low")], [0, 1]),
        ([_m("nosuch", EQ, "x")], []),
    ],
)
def test_select_matchers(db: TSDB, matchers: list[LabelMatcher], expected: list[int]) -> None:
    got = db.select(matchers, 0, 10_000)
    assert sorted(SERIES.index(dict(s.labels)) for s in got) == expected
    for s in got:
        i = SERIES.index(dict(s.labels))
        assert s.timestamps.tolist() == [0, 1000, 2000, 3000, 4000]
        assert s.values.tolist() == [i * 10 + k for k in range(5)]


def test_select_time_bounds_are_inclusive(db: TSDB) -> None:
    (s,) = db.select([_m("zone", EQ, "bar")], 1000, 3000)
    assert s.timestamps.tolist() == [1000, 2000, 3000]
    assert db.select([_m("zone", EQ, "bar")], 5000, 9000) == []


def test_labels_and_values(db: TSDB) -> None:
    assert db.label_names() == ["__name__", "importance", "venue", "zone"]
    assert db.label_names([_m("__name__", EQ, "zone_latency")]) == ["__name__", "venue", "zone"]
    assert db.label_values("venue") == ["v1", "v2"]
    assert db.label_values("zone", [_m("venue", EQ, "v1")]) == ["bar", "lobby"]


def test_out_of_order_and_duplicates_are_refused_and_counted(db: TSDB) -> None:
    lb = SERIES[0]
    db.append(lb, 4000, 4.0)  # same time, same value as stored -> duplicate
    db.append(lb, 4000, 99.0)  # same time, other value
    db.append(lb, 2500, 1.0)  # older
    st = db.stats()
    assert (st.refused_duplicate, st.refused_out_of_order) == (1, 2)
    (s,) = db.select([_m("zone", EQ, "lobby"), _m("venue", EQ, "v1")], 0, 9999)
    assert s.values[-1] == 4.0
    assert len(s.values) == 5


def test_append_batch_caches_refs_and_rejects_repeats() -> None:
    db = TSDB().open()
    labels = [{"__name__": "up", "zone": str(i)} for i in range(100)]
    refs = db.refs(labels)
    assert db.refs(list(reversed(labels))).tolist() == refs[::-1].tolist()
    assert db.append_batch(labels, 1000, np.arange(100.0)) == 100
    # Repeated refs in one batch: only the first sample at a timestamp is kept.
    assert db.append_refs(np.array([refs[0], refs[0]]), 2000, np.array([1.0, 2.0])) == 1
    (s,) = db.select([_m("zone", EQ, "0")], 0, 5000)
    assert s.values.tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="values"):
        db.append_refs(refs, 3000, np.zeros(3))


def _instant(db: TSDB, t: int, lookback: int = 300_000) -> dict[str, float]:
    labels, values, _stamps = db.select_instant([_m("__name__", EQ, "x")], t, lookback)
    return {lb["i"]: float(v) for lb, v in zip(labels, values, strict=True)}


def test_select_instant_lookback_and_staleness() -> None:
    db = TSDB().open()
    a, b, c = ({"__name__": "x", "i": i} for i in "abc")
    db.append(a, 0, 1.0)
    db.append(b, 0, 2.0)
    db.append(c, 0, 3.0)
    db.append(a, 60_000, 11.0)
    db.append(b, 60_000, STALE_NAN)
    db.append(c, 120_000, 13.0)
    assert _instant(db, 60_000) == {"a": 11.0, "c": 3.0}  # b went stale
    assert _instant(db, 59_999) == {"a": 1.0, "b": 2.0, "c": 3.0}  # before newest: search
    assert _instant(db, 300_000) == {"a": 11.0, "c": 13.0}
    assert _instant(db, 360_000) == {"c": 13.0}  # a's sample is exactly 5m old: left-open
    assert _instant(db, 420_001) == {}
    assert _instant(db, 129_999, lookback=10_000) == {"c": 13.0}


def test_mark_stale_writes_markers() -> None:
    db = TSDB().open()
    lb = {"__name__": "x", "i": "a"}
    db.append(lb, 0, 1.0)
    db.mark_stale([lb], 1000)
    (s,) = db.select([_m("i", EQ, "a")], 0, 2000)
    assert is_stale(s.values).tolist() == [False, True]


def test_select_instant_matches_select_on_random_data() -> None:
    rng = np.random.default_rng(7)
    db = TSDB().open()
    labels = [{"__name__": "x", "i": str(i)} for i in range(50)]
    for t in range(0, 600_000, 15_000):
        present = rng.random(50) < 0.7
        vals = np.where(rng.random(50) < 0.1, STALE_NAN, rng.random(50))
        db.append_batch([lb for lb, p in zip(labels, present, strict=True) if p], t, vals[present])
    for t in (100_000, 300_000, 599_000, 700_000):
        expect = {}
        for s in db.select([_m("__name__", EQ, "x")], t - 300_000 + 1, t):
            if not is_stale(s.values[-1:])[0]:
                expect[s.labels["i"]] = float(s.values[-1])
        assert _instant(db, t) == expect


def test_select_instant_table_grows_with_new_series_and_feeds_the_engine() -> None:
    from tocsin.promql import Engine
    from tocsin.promql.labels import LabelTable

    db = TSDB().open()
    db.append_batch([{"__name__": "x", "i": str(i)} for i in range(3)], 1000, np.ones(3))
    rows, _, stamps = db.select_instant([_m("__name__", EQ, "x")], 2000, 300_000)
    assert isinstance(rows, LabelTable)
    assert stamps.tolist() == [1000, 1000, 1000]
    db.append({"__name__": "x", "i": "3"}, 1500, 5.0)
    db.append({"__name__": "y", "i": "9"}, 1500, 5.0)
    rows, values, stamps = db.select_instant([_m("__name__", EQ, "x")], 2000, 300_000)
    assert [r["i"] for r in rows] == ["0", "1", "2", "3"]
    assert values.tolist() == [1.0, 1.0, 1.0, 5.0]
    assert stamps.tolist() == [1000, 1000, 1000, 1500]
    eng = Engine()
    got = eng.instant_query(db, "timestamp(x)", 2.0).to_prometheus_json()["result"]
    assert sorted((s["metric"]["i"], s["value"][1]) for s in got) == [
        ("0", "1"),
        ("1", "1"),
        ("2", "1"),
        ("3", "1.5"),
    ]
    got = eng.instant_query(db, "sum(x)", 2.0).to_prometheus_json()["result"]
    assert got[0]["value"][1] == "8"


@pytest.mark.parametrize(("mint", "maxt"), [(0, 10_000), (1000, 3000), (3500, 3900), (9000, 9999)])
def test_select_batch_equals_select(db: TSDB, mint: int, maxt: int) -> None:
    for matchers in ([_m("__name__", EQ, "zone_up")], [_m("zone", RE, "lob.*")]):
        want = db.select(matchers, mint, maxt)
        labels, ts, vs, off = db.select_batch(matchers, mint, maxt)
        assert len(labels) == len(want) == len(off) - 1
        for i, s in enumerate(want):
            assert labels[i] == dict(s.labels)
            assert ts[off[i] : off[i + 1]].tolist() == s.timestamps.tolist()
            assert vs[off[i] : off[i + 1]].tolist() == s.values.tolist()


def test_engine_range_functions_over_select_batch() -> None:
    from tocsin.promql import Engine

    db = TSDB().open()
    labels = [{"__name__": "c", "i": str(i)} for i in range(4)]
    for k in range(21):
        db.append_batch(labels, 15_000 * k, np.array([k * (i + 1) for i in range(4)], float))
    got = Engine().instant_query(db, "sum_over_time(c[1m])", 300.0).to_prometheus_json()
    by_i = {s["metric"]["i"]: float(s["value"][1]) for s in got["result"]}
    # (t - 60s, t] holds the samples at 255, 270, 285 and 300 s: k = 17..20.
    assert by_i == {str(i): float(sum(k * (i + 1) for k in range(17, 21))) for i in range(4)}
