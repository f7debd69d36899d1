from __future__ import annotations

import numpy as np

from tocsin.tsdb import rollup
from tocsin.tsdb.types import STALE_NAN


def test_buckets_are_right_closed_and_stale_only_counts_in_last() -> None:
    ts = np.array([1, 300_000, 300_001, 450_000, 600_000, 610_000], dtype=np.int64)
    vs = np.array([5.0, 1.0, 7.0, 3.0, STALE_NAN, 2.0])
    r = rollup.compute(ts, vs, 300_000)
    assert r.end.tolist() == [300_000, 600_000, 900_000]
    assert r.last_t.tolist() == [300_000, 600_000, 610_000]
    assert r.min.tolist() == [1.0, 3.0, 2.0]
    assert r.max.tolist() == [5.0, 7.0, 2.0]
    assert r.sum.tolist() == [6.0, 10.0, 2.0]
    assert r.count.tolist() == [2.0, 2.0, 1.0]
    assert np.isnan(r.last[1])  # the stale marker is the bucket's last sample
    assert r.last[2] == 2.0


def test_many_equals_one_by_one_and_round_trips() -> None:
    rng = np.random.default_rng(3)
    parts = [np.sort(rng.choice(10_000_000, size=n, replace=False)) for n in (0, 5, 200, 1)]
    counts = np.array([len(p) for p in parts], dtype=np.int64)
    ts = np.concatenate(parts).astype(np.int64)
    vs = rng.random(len(ts))
    per, many = rollup.compute_many(counts, ts, vs, 60_000)
    blobs = rollup.encode_many(per, many)
    a = 0
    for i, p in enumerate(parts):
        one = rollup.compute(p.astype(np.int64), vs[a : a + len(p)], 60_000)
        a += len(p)
        got = rollup.decode(blobs[i])
        for f in rollup.Rollup.__dataclass_fields__:
            assert getattr(got, f).tolist() == getattr(one, f).tolist(), f


def test_concat_merges_a_bucket_split_by_a_block_edge() -> None:
    left = rollup.compute(np.array([100, 200], dtype=np.int64), np.array([4.0, 9.0]), 1000)
    right = rollup.compute(np.array([1000, 1500], dtype=np.int64), np.array([1.0, 2.0]), 1000)
    r = rollup.concat([left, right])
    assert r.end.tolist() == [1000, 2000]
    assert (r.min[0], r.max[0], r.sum[0], r.count[0]) == (1.0, 9.0, 14.0, 3.0)
    assert (r.last_t[0], r.last[0]) == (1000, 1.0)
