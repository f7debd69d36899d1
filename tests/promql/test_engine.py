"""Engine unit tests: vectorised paths against plain-Python references, results, errors."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import pytest

from tocsin.errors import QueryError, UnsupportedFeature
from tocsin.promql import Engine, MatrixResult, MemStore, ScalarResult, VectorResult
from tocsin.promql.labels import LabelTable
from tocsin.tsdb.types import STALE_NAN, LabelMatcher, SeriesData


def fleet(n: int = 300, seed: int = 7) -> tuple[MemStore, dict[str, float], dict[str, str]]:
    """zone_up series with random 0/1 values at t=60s; returns store, value and venue per zone."""
    rng = random.Random(seed)
    store = MemStore()
    values: dict[str, float] = {}
    venues: dict[str, str] = {}
    for i in range(n):
        zone, venue = f"z{i}", f"v{rng.randrange(12)}"
        v = float(rng.random() < 0.8)
        labels = {"__name__": "zone_up", "zone": zone, "venue": venue}
        store.append(labels, 0, 1.0)
        store.append(labels, 60_000, v)
        values[zone], venues[zone] = v, venue
    return store, values, venues


class SelectOnly:
    """A Queryable without the batch method, to exercise the generic path."""

    def __init__(self, inner: MemStore) -> None:
        self.inner = inner

    def select(
        self, matchers: Sequence[LabelMatcher], mint_ms: int, maxt_ms: int
    ) -> Iterable[SeriesData]:
        return self.inner.select(matchers, mint_ms, maxt_ms)

    def label_names(self, matchers: Sequence[LabelMatcher] = ()) -> list[str]:
        return self.inner.label_names(matchers)

    def label_values(self, name: str, matchers: Sequence[LabelMatcher] = ()) -> list[str]:
        return self.inner.label_values(name, matchers)


def by_label(res: VectorResult, label: str) -> dict[str, float]:
    return {s.labels.get(label, ""): s.value for s in res.samples}


@pytest.mark.parametrize("use_fast_path", [True, False])
def test_fleet_rules_match_python_reference(use_fast_path: bool) -> None:
    store, values, venues = fleet()
    q = store if use_fast_path else SelectOnly(store)
    eng = Engine()
    down = eng.instant_query(q, "zone_up == 0", 60)
    assert isinstance(down, VectorResult)
    assert set(by_label(down, "zone")) == {z for z, v in values.items() if v == 0}
    assert all(s.labels["__name__"] == "zone_up" for s in down.samples)

    sums: dict[str, float] = defaultdict(float)
    downs: dict[str, int] = defaultdict(int)
    for z, v in values.items():
        sums[venues[z]] += v
        downs[venues[z]] += v == 0
    got = eng.instant_query(q, "sum by (venue) (zone_up)", 60)
    assert isinstance(got, VectorResult)
    assert by_label(got, "venue") == sums
    got = eng.instant_query(q, "count by (venue) (zone_up == 0) >= 2", 60)
    assert isinstance(got, VectorResult)
    assert by_label(got, "venue") == {k: float(c) for k, c in downs.items() if c >= 2}
    ratio = eng.instant_query(q, "sum(zone_up) / count(zone_up)", 60)
    assert isinstance(ratio, VectorResult)
    assert ratio.samples[0].value == pytest.approx(sum(values.values()) / len(values))
    assert ratio.samples[0].labels == {}


def test_range_query_equals_instant_queries_at_each_step() -> None:
    rng = random.Random(3)
    store = MemStore()
    for i in range(40):
        labels = {"__name__": "req_total", "job": f"j{i % 4}", "inst": str(i)}
        total = 0.0
        for k in range(40):
            if rng.random() < 0.1:
                continue  # a missed scrape
            total += rng.randrange(5)
            store.append(labels, k * 15_000, total)
    eng = Engine()
    queries = [
        "sum by (job) (rate(req_total[1m]))",
        "max_over_time(req_total[2m]) - min_over_time(req_total[2m])",
        "req_total > on(inst) group_left req_total offset 1m",
        "topk(2, req_total)",
        "avg_over_time(sum by (job) (req_total)[2m:30s])",
    ]
    for query in queries:
        matrix = eng.range_query(store, query, 120, 540, 60)
        got: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
        for s in matrix.series:
            got[tuple(sorted(s.labels.items()))] = dict(
                zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
            )
        want: dict[tuple[tuple[str, str], ...], dict[int, float]] = defaultdict(dict)
        for t in range(120, 541, 60):
            res = eng.instant_query(store, query, t)
            assert isinstance(res, VectorResult)
            for s in res.samples:
                want[tuple(sorted(s.labels.items()))][t * 1000] = s.value
        assert got.keys() == want.keys(), query
        for key, points in want.items():
            assert got[key] == pytest.approx(points), (query, key)


def test_staleness_marker_hides_series_and_lookback_expires() -> None:
    store = MemStore()
    store.append({"__name__": "m"}, 0, 1.0)
    store.append({"__name__": "m"}, 10_000, STALE_NAN)
    store.append({"__name__": "n"}, 0, 2.0)
    eng = Engine(lookback_delta=300)
    res = eng.instant_query(store, "{__name__=~'m|n'}", 20)
    assert isinstance(res, VectorResult)
    assert [s.labels["__name__"] for s in res.samples] == ["n"]
    res = eng.instant_query(store, "n", 300)
    assert isinstance(res, VectorResult)
    assert len(res) == 0


def test_subquery_with_no_step_in_its_window_is_empty() -> None:
    # Steps are aligned to multiples of 1h: none lies in (700s, 1000s].
    store = MemStore()
    for k in range(80):
        store.append({"__name__": "m", "a": "1"}, 15_000 * k, 1.0)
    eng = Engine()
    assert eng.instant_query(store, "m[5m:1h]", 1000).to_prometheus_json()["result"] == []
    assert eng.instant_query(store, "max_over_time(m[5m:1h])", 1000).to_prometheus_json() == {
        "resultType": "vector",
        "result": [],
    }
    ranged = eng.range_query(store, "max_over_time(m[5m:1h])", 900, 1000, 50)
    assert ranged.to_prometheus_json()["result"] == []
    # A window that reaches back to a step (0s) still sees it.
    res = eng.instant_query(store, "max_over_time(m[20m:1h])", 1000)
    assert res.to_prometheus_json()["result"] == [{"metric": {"a": "1"}, "value": [1000, "1"]}]


def test_prometheus_json_shapes() -> None:
    store, _, _ = fleet(5)
    eng = Engine()
    vec = eng.instant_query(store, "count(zone_up)", 60.5)
    assert vec.to_prometheus_json() == {
        "resultType": "vector",
        "result": [{"metric": {}, "value": [60.5, "5"]}],
    }
    sc = eng.instant_query(store, "1 / 0", 60)
    assert isinstance(sc, ScalarResult)
    assert sc.to_prometheus_json() == {"resultType": "scalar", "result": [60, "+Inf"]}
    assert eng.instant_query(store, '"hi"', 1).to_prometheus_json() == {
        "resultType": "string",
        "result": [1, "hi"],
    }
    mat = eng.range_query(store, "vector(0.25)", 0, 60, 30)
    assert isinstance(mat, MatrixResult)
    assert mat.to_prometheus_json() == {
        "resultType": "matrix",
        "result": [{"metric": {}, "values": [[0, "0.25"], [30, "0.25"], [60, "0.25"]]}],
    }


@pytest.mark.parametrize(
    ("query", "kind", "fragment"),
    [
        ("sum(", "bad_data", "parse error"),
        ("zone_up + on(venue) zone_up", "execution", "many-to-many matching not allowed"),
        ('label_replace(zone_up, "zone", "x", "zone", ".*")', "execution", "same labelset"),
        ("zone_up[5m]", "bad_data", 'invalid expression type "range vector"'),
        # Durations past timedelta's range were an internal ValueError.
        ("count_over_time(zone_up[1000000000y])", "bad_data", "duration out of range"),
        ("max_over_time(zone_up[5m:1000000000y])", "bad_data", "duration out of range"),
    ],
)
def test_query_errors_name_the_problem(query: str, kind: str, fragment: str) -> None:
    store, _, _ = fleet(20)
    eng = Engine()
    run = eng.range_query if query.endswith("[5m]") else eng.instant_query
    args = (0, 60, 30) if query.endswith("[5m]") else (60,)
    with pytest.raises(QueryError) as err:
        run(store, query, *args)  # type: ignore[operator]
    assert err.value.kind == kind
    assert fragment in str(err.value)


def test_unsupported_features_raise_instead_of_answering() -> None:
    store, _, _ = fleet(5)
    eng = Engine()
    with pytest.raises(UnsupportedFeature, match="native histograms"):
        eng.instant_query(store, "histogram_count(zone_up)", 60)
    store.add_unsupported({"__name__": "hist"}, "native histogram samples are not supported")
    with pytest.raises(UnsupportedFeature, match="native histogram"):
        eng.instant_query(store, "sum(hist)", 60)


def test_timeout_and_sample_limit() -> None:
    store, _, _ = fleet(50)
    ticks = iter(range(0, 1000, 10))
    eng = Engine(timeout=5.0, monotonic=lambda: float(next(ticks)))
    with pytest.raises(QueryError) as err:
        eng.instant_query(store, "sum(zone_up) + sum(zone_up)", 60)
    assert err.value.kind == "timeout"
    with pytest.raises(QueryError, match="too many samples"):
        Engine(max_samples=10).instant_query(store, "zone_up", 60)


def test_label_table_grouping_and_concat() -> None:
    a = LabelTable.from_dicts([{"x": "1", "y": "a"}, {"x": "2"}, {"x": "1", "y": "b"}])
    b = LabelTable.from_dicts([{"y": "a", "x": "1"}, {"z": "q"}])
    inv, first = a.group(["x"])
    assert inv.tolist()[0] == inv.tolist()[2] != inv.tolist()[1]
    assert len(first) == 2
    both = LabelTable.concat([a, b])
    assert both.rows() == [*a.rows(), *b.rows()]
    inv, first = both.group(None)
    assert inv[0] == inv[3]
    assert len(first) == 4
    dropped = both.drop_name_where(np.ones(5, dtype=bool))
    assert dropped.rows() == both.rows()  # no __name__ column: unchanged


@pytest.mark.parametrize(
    "query",
    [
        "sum by (job) (rate(req[1m]))",
        "req @ start() - req",
        "max_over_time(req[3m:30s]) * step()",
        "req > 10 or vector(time())",
    ],
)
def test_range_query_chunking_does_not_change_results(query: str) -> None:
    store = MemStore()
    for i in range(6):
        for k in range(80):
            store.append({"__name__": "req", "job": f"j{i % 2}", "i": str(i)}, k * 10_000, k * i)
    whole = Engine(range_chunk_steps=10_000).range_query(store, query, 0, 790, 10)
    chunked = Engine(range_chunk_steps=7).range_query(store, query, 0, 790, 10)
    assert whole.to_prometheus_json() == chunked.to_prometheus_json()
    assert whole.series
