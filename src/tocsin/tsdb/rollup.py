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

import struct
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tocsin.tsdb.chunks import ChunkError
from tocsin.tsdb.types import STALE_NAN_BITS

_MAGIC = b"TR2"
_HEADER = struct.Struct("<3sIB")  # magic, bucket count, 1 if the body is zlib'ed
_COMPRESS_FROM = 512  # bytes; smaller bodies do not shrink enough to pay for zlib

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
    return compute_many(np.array([len(ts)], dtype=np.int64), ts, vs, res_ms)[1]


def compute_many(counts: I64, ts: I64, vs: F64, res_ms: int) -> tuple[I64, Rollup]:
    """Roll up many series at once (`counts[i]` consecutive samples each).

    Returns the number of buckets per series and all buckets, series after series.
    """
    if len(ts) == 0:
        return np.zeros(len(counts), dtype=np.int64), empty_rollup()
    sid = np.repeat(np.arange(len(counts)), counts)
    bucket = -((-ts) // res_ms)  # ceil division: a sample at k*res belongs to bucket k
    edge = (bucket[1:] != bucket[:-1]) | (sid[1:] != sid[:-1])
    starts = np.flatnonzero(np.concatenate([[True], edge]))
    ends_idx = np.concatenate([starts[1:], [len(ts)]]) - 1
    stale = vs.view(np.uint64) == STALE_NAN_BITS
    real = np.where(stale, np.nan, vs)
    with np.errstate(invalid="ignore"):
        mins = np.fmin.reduceat(real, starts)
        maxs = np.fmax.reduceat(real, starts)
    sums = np.add.reduceat(np.where(stale, 0.0, vs), starts)
    cnts = np.add.reduceat((~stale).astype(np.float64), starts)
    per_series = np.bincount(sid[starts], minlength=len(counts)).astype(np.int64)
    return per_series, Rollup(
        end=(bucket[starts] * res_ms).astype(np.int64),
        last_t=ts[ends_idx].astype(np.int64),
        min=mins,
        max=maxs,
        sum=sums,
        count=cnts,
        last=vs[ends_idx].astype(np.float64),
    )


def encode_many(counts: I64, r: Rollup) -> list[bytes]:
    """One compressed blob per series from `compute_many`'s output."""
    ints = np.ascontiguousarray(np.stack([r.end, r.last_t], axis=1), dtype="<i8")
    floats = np.ascontiguousarray(
        np.stack([r.min, r.max, r.sum, r.count, r.last], axis=1), dtype="<f8"
    )
    ib, fb = memoryview(ints.tobytes()), memoryview(floats.tobytes())
    out = []
    a = 0
    for n in counts.tolist():
        body = bytes(ib[16 * a : 16 * (a + n)]) + bytes(fb[40 * a : 40 * (a + n)])
        if len(body) >= _COMPRESS_FROM:
            out.append(_HEADER.pack(_MAGIC, n, 1) + zlib.compress(body, 1))
        else:
            out.append(_HEADER.pack(_MAGIC, n, 0) + body)
        a += n
    return out


def decode(blob: bytes) -> Rollup:
    try:
        magic, n, packed = _HEADER.unpack_from(blob)
        if magic != _MAGIC:
            raise ChunkError(f"not a tocsin rollup (magic {magic!r})")
        body = blob[_HEADER.size :]
        if packed:
            body = zlib.decompress(body)
    except (struct.error, zlib.error) as exc:
        raise ChunkError(f"corrupt rollup: {exc}") from None
    if len(body) != 56 * n:
        raise ChunkError(f"corrupt rollup: expected {n} buckets")
    ints = np.frombuffer(body[: 16 * n], dtype="<i8").reshape(n, 2)
    floats = np.frombuffer(body[16 * n :], dtype="<f8").reshape(n, 5)
    return Rollup(
        end=ints[:, 0].astype(np.int64),
        last_t=ints[:, 1].astype(np.int64),
        min=floats[:, 0].astype(np.float64),
        max=floats[:, 1].astype(np.float64),
        sum=floats[:, 2].astype(np.float64),
        count=floats[:, 3].astype(np.float64),
        last=floats[:, 4].astype(np.float64),
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
