"""Vectorised range functions agree with the per-window reference kernels."""

from __future__ import annotations

import numpy as np
import pytest

from tocsin.promql import rangefuncs
from tocsin.promql.labels import LabelTable
from tocsin.promql.selection import FlatSeries, windows
from tocsin.promql.values import RangeVector


def random_range_vector(seed: int) -> RangeVector:
    rng = np.random.default_rng(seed)
    n = 60
    ts_parts, val_parts = [], []
    for _ in range(n):
        count = int(rng.integers(0, 25))
        ts = np.sort(rng.choice(np.arange(0, 600_000, 5_000), size=count, replace=False))
        steps = rng.integers(0, 10, size=count).astype(float)
        vals = np.cumsum(steps)
        resets = rng.random(count) < 0.15  # counter resets
        vals[resets] = rng.integers(0, 5, size=int(resets.sum()))
        if count and rng.random() < 0.2:
            vals[rng.integers(0, count)] = np.nan
        ts_parts.append(ts.astype(np.int64))
        val_parts.append(vals)
    off = np.zeros(n + 1, dtype=np.intp)
    np.cumsum([len(p) for p in ts_parts], out=off[1:])
    flat = FlatSeries(
        LabelTable.from_dicts([{"i": str(i)} for i in range(n)]),
        np.concatenate(ts_parts),
        np.concatenate(val_parts),
        off,
    )
    times = np.arange(60_000, 600_001, 45_000, dtype=np.int64)
    lo, hi = windows(flat, times, 120_000)
    return RangeVector(
        flat.labels, flat.ts, flat.vals, flat.off, lo, hi, times, 120_000, np.zeros(n, bool)
    )


@pytest.mark.parametrize("name", sorted(rangefuncs._VECTORISED))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_matches_kernel(name: str, seed: int) -> None:
    rv = random_range_vector(seed)
    got, got_ok = rangefuncs.apply(name, rv, [], rv.times)
    kernel, needs = rangefuncs._KERNELS[name]
    checked = 0
    for i in range(rv.n):
        for j in range(len(rv.times)):
            a, b = int(rv.lo[i, j]), int(rv.hi[i, j])
            want = None
            if b - a >= needs:
                want = kernel(rv.ts[a:b], rv.vals[a:b], rv, j, [], int(rv.times[j]))
            assert bool(got_ok[i, j]) == (want is not None), (name, i, j)
            if want is not None:
                np.testing.assert_allclose(got[i, j], want, rtol=1e-12, equal_nan=True)
                checked += 1
    assert checked > 50
