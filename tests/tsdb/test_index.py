"""The column-wise series index against a brute-force reference over dicts."""

from __future__ import annotations

import numpy as np
import pytest

from tocsin.promql.labels import LabelTable
from tocsin.tsdb.db import TSDB
from tocsin.tsdb.index import SeriesIndex
from tocsin.tsdb.types import LabelMatcher, MatchOp


def fleet(n: int) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        lb = {
            "__name__": ("up", "latency")[i % 2],
            "venue": f"v{i // 4}",
            "zone": f"z{i}",
            "importance": ("flagship", "standard", "")[i % 3],
        }
        if i % 5 == 0:
            lb["extra"] = "yes"
        out.append(lb)
    return out


MATCHERS = [
    [LabelMatcher("__name__", MatchOp.EQ, "up")],
    [LabelMatcher("importance", MatchOp.EQ, "")],
    [LabelMatcher("importance", MatchOp.NE, "")],
    [LabelMatcher("importance", MatchOp.NE, "flagship")],
    [LabelMatcher("extra", MatchOp.EQ, "yes"), LabelMatcher("__name__", MatchOp.NE, "up")],
    [LabelMatcher("extra", MatchOp.EQ, "")],
    [LabelMatcher("venue", MatchOp.RE, "v1.*")],
    [LabelMatcher("venue", MatchOp.NRE, "v1.*|v2")],
    [LabelMatcher("importance", MatchOp.RE, "flag.*|")],
    [LabelMatcher("nosuch", MatchOp.EQ, "")],
    [LabelMatcher("nosuch", MatchOp.RE, "x")],
    [LabelMatcher("zone", MatchOp.EQ, "unknown-value")],
]


def expected(rows: dict[int, dict[str, str]], matchers: list[LabelMatcher]) -> list[int]:
    return sorted(
        r for r, lb in rows.items() if all(m.matches(lb.get(m.name, "")) for m in matchers)
    )


@pytest.mark.parametrize("matchers", MATCHERS, ids=lambda ms: ",".join(map(str, ms)))
def test_select_matches_brute_force(matchers: list[LabelMatcher]) -> None:
    idx = SeriesIndex()
    rows = {idx.get_or_create(lb): {k: v for k, v in lb.items() if v} for lb in fleet(200)}
    assert idx.select(matchers).tolist() == expected(rows, matchers)
    idx.remove(range(0, 200, 3))
    for r in range(0, 200, 3):
        del rows[r]
    assert idx.select(matchers).tolist() == expected(rows, matchers)


def test_same_label_set_any_order_is_one_series() -> None:
    idx = SeriesIndex()
    a = idx.get_or_create({"b": "2", "a": "1"})
    assert idx.get_or_create({"a": "1", "b": "2", "c": ""}) == a
    assert idx.ref({"a": "1", "b": "2"}) == a
    assert idx.ref({"a": "1"}) is None
    assert idx.get_or_create({"a": "1"}) != a
    assert idx.labels(a) == {"a": "1", "b": "2"}
    assert list(idx.labels(a)) == ["a", "b"]


def test_labels_table_and_label_queries_agree_with_input() -> None:
    idx = SeriesIndex()
    rows = fleet(50)
    refs = np.array([idx.get_or_create(lb) for lb in rows], dtype=np.int64)
    clean = [{k: v for k, v in lb.items() if v} for lb in rows]
    assert idx.labels_of(refs.tolist()) == clean
    assert idx.table(refs[::2]).rows() == LabelTable.from_dicts(clean[::2]).rows()
    assert idx.label_names() == sorted({k for lb in clean for k in lb})
    assert idx.label_values("importance") == ["flagship", "standard"]
    ups = idx.select([LabelMatcher("__name__", MatchOp.EQ, "up")])
    assert idx.label_values("__name__", ups) == ["up"]
    assert idx.label_names(refs[1:2]) == sorted(clean[1])
    assert idx.label_values("nosuch") == []


def test_removal_compacts_symbols_and_keeps_survivors() -> None:
    idx = SeriesIndex()
    rows = fleet(100)
    refs = [idx.get_or_create(lb) for lb in rows]
    idx.remove(refs[:90])
    assert len(idx) == 10
    assert len(idx._strs) < 60  # the 90 dead zones' strings are gone
    for r, lb in zip(refs[90:], rows[90:], strict=True):
        want = {k: v for k, v in lb.items() if v}
        assert idx.labels(r) == want
        assert idx.get_or_create(lb) == r
    with pytest.raises(KeyError):
        idx.labels(refs[0])
    fresh = idx.get_or_create(rows[0])
    assert fresh >= 100  # refs are never reused
    assert idx.select([LabelMatcher("zone", MatchOp.EQ, "z0")]).tolist() == [fresh]


def test_add_with_fixed_refs_rejects_conflicts() -> None:
    idx = SeriesIndex()
    idx.add(5, {"a": "1"})
    idx.add(5, {"a": "1"})
    assert idx.capacity == 6
    with pytest.raises(ValueError, match="already has ref 5"):
        idx.add(6, {"a": "1"})
    with pytest.raises(ValueError, match="ref 5 is already in use"):
        idx.add(5, {"a": "2"})


def test_memory_only_tsdb_keeps_no_pending_log() -> None:
    db = TSDB().open()
    refs = db.refs(fleet(10))
    for k in range(3):
        db.append_refs(refs, 1_000 * (k + 1), np.ones(10))
    db.append({"__name__": "x"}, 5_000, 1.0)
    assert db.stats().head_samples == 31
    assert db.stats().pending_samples == 0


@pytest.mark.parametrize("drop", [["a"], ["b"], ["c"], ["a", "c"], ["a", "b", "c"]])
def test_series_sharing_all_but_the_name_are_told_apart(drop: list[str]) -> None:
    idx = SeriesIndex()
    base = {"target": "t1", "venue": "v"}
    refs = {n: idx.get_or_create({"__name__": n, **base}) for n in "abc"}
    unnamed = idx.get_or_create(base)
    assert len(set(refs.values()) | {unnamed}) == 4
    idx.remove([refs[n] for n in drop])
    for n in "abc":
        got = idx.ref({"__name__": n, **base})
        assert got == (None if n in drop else refs[n])
    assert idx.ref(base) == unnamed
    again = idx.get_or_create({"__name__": drop[0], **base})
    assert again not in refs.values()
    assert idx.labels(again) == {"__name__": drop[0], **base}
