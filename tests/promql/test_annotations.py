"""Warnings carry Prometheus' wording and the (line:col) of the expression."""

from __future__ import annotations

import pytest

from tocsin.promql import Engine, MemStore
from tocsin.promql.annotations import locate


@pytest.mark.parametrize(
    ("query", "name", "arg", "offset"),
    [
        ("sort(x)", "sort", None, 0),
        ("sum(sort(x))", "sort", None, 4),
        ("quantile without(p)(NaN, d)", "quantile", 0, 20),
        ("histogram_quantile(0.5, rate(x[5m]))", "histogram_quantile", 1, 24),
        ('f(label_join(x, "a", ",", "b"), y)', "label_join", 2, 21),
        ("nothing(x)", "sort", None, None),
    ],
)
def test_locate(query: str, name: str, arg: int | None, offset: int | None) -> None:
    assert locate(query, name, arg) == offset


def test_query_results_carry_warnings() -> None:
    store = MemStore()
    store.append({"__name__": "x", "le": "oops"}, 0, 1.0)
    eng = Engine()
    assert eng.range_query(store, "sort(x)", 0, 60, 60).warnings == [
        "PromQL warning: sort is ineffective for range queries since results are always "
        "ordered by labels (1:1)"
    ]
    assert eng.instant_query(store, "sort(x)", 0).warnings == []
    res = eng.instant_query(store, "histogram_quantile(2, x)", 0)
    assert res.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got 2 (1:20)",
        'PromQL warning: bucket label "le" is missing or has a malformed value of "oops" '
        'for metric name "x" (1:23)',
    ]
