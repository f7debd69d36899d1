"""Downsampled rollups: per series, per bucket of `res` ms, min/max/sum/count/last.

Buckets are right-closed, `(end - res, end]`, the same shape as a Prometheus
lookback or range window ending at `end`. So for evaluation times that are
multiples of `res`, the newest sample at or before t is the `last` of the
bucket ending at t (or of the nearest non-empty one before it), and
`max_over_time(x[k*res])` is the max of k bucket maxima: both exact.

Staleness markers take part only in `last` (so a series that went stale
still reads as stale); min/max/sum/count cover real samples only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tocsin.tsdb.types import STALE_NAN_BITS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

AGGREGATES = ("min", "max", "sum", "count", "last")


@dataclass
class Rollup:
    """Bucket columns of one series at one resolution, ordered by `end`."""

    end: I64
    last_t: I64
    min: F64
    max: F64
    sum: F64
    count: F64
    last: F64

    def __len__(self) -> int:
        return len(self.end)

    def column(self, agg: str) -> tuple[I64, F64]:
        """Samples to hand to the engine for `agg`: (timestamps, values)."""
        if agg == "last":
            return self.last_t, self.last
        if agg == "avg":
            with np.errstate(invalid="ignore", divide="ignore"):
                return self.end, self.sum / self.count
        if agg not in AGGREGATES:
            raise ValueError(f"unknown rollup aggregate {agg!r}")
        return self.end, getattr(self, agg)


def empty_rollup() -> Rollup:
    z = np.zeros(0, dtype=np.int64)
    f = np.zeros(0, dtype=np.float64)
    return Rollup(z, z.copy(), f, f.copy(), f.copy(), f.copy(), f.copy())


def compute(ts: I64, vs: F64, res_ms: int) -> Rollup:
    """Roll up sorted samples into right-closed buckets of `res_ms`."""
    if len(ts) == 0:
        return empty_rollup()
    bucket = -((-ts) // res_ms)  # ceil division: a sample at k*res belongs to bucket k
    starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]]))
    ends_idx = np.concatenate([starts[1:], [len(ts)]]) - 1
    stale = vs.view(np.uint64) == STALE_NAN_BITS
    real = np.where(stale, np.nan, vs)
    with np.errstate(invalid="ignore"):
        mins = np.fmin.reduceat(real, starts)
        maxs = np.fmax.reduceat(real, starts)
    sums = np.add.reduceat(np.where(stale, 0.0, vs), starts)
    counts = np.add.reduceat((~stale).astype(np.float64), starts)
    return Rollup(
        end=(bucket[starts] * res_ms).astype(np.int64),
        last_t=ts[ends_idx].astype(np.int64),
        min=mins,
        max=maxs,
        sum=sums,
        count=counts,
        last=vs[ends_idx].astype(np.float64),
    )


def concat(parts: list[Rollup]) -> Rollup:
    """Join per-block rollups in time order, merging a bucket split by a block edge."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_rollup()
    r = Rollup(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Rollup.__dataclass_fields__)
    )
    order = np.argsort(r.end, kind="stable")
    r = Rollup(*(getattr(r, f)[order] for f in Rollup.__dataclass_fields__))
    dup = np.flatnonzero(r.end[1:] == r.end[:-1])
    if len(dup) == 0:
        return r
    # Fold each duplicate bucket (i, i+1) into i+1, then drop i.
    for i in dup[::-1].tolist():
        j = i + 1
        r.min[j] = np.fmin(r.min[i], r.min[j])
        r.max[j] = np.fmax(r.max[i], r.max[j])
        r.sum[j] += r.sum[i]
        r.count[j] += r.count[i]
        if r.last_t[i] > r.last_t[j]:
            r.last_t[j], r.last[j] = r.last_t[i], r.last[i]
    keep = np.ones(len(r.end), dtype=bool)
    keep[dup] = False
    return Rollup(*(getattr(r, f)[keep] for f in Rollup.__dataclass_fields__))
