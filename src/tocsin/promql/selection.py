"""Reading series from a Queryable and locating samples for many steps at once.

Samples of all selected series are concatenated into flat arrays ordered by
(series, time). A composite key `series * span + (t - tmin)` is then globally
sorted, so one `np.searchsorted` finds the latest sample (instant selectors)
or the window bounds (range selectors) of every series at every step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tocsin.promql.labels import LabelTable
from tocsin.tsdb.types import LabelMatcher, Queryable, is_stale

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Idx = npt.NDArray[np.intp]


@dataclass
class FlatSeries:
    labels: LabelTable
    ts: I64
    vals: F64
    off: Idx  # len N+1

    @property
    def n(self) -> int:
        return self.labels.n


def select_flat(
    q: Queryable, matchers: Sequence[LabelMatcher], mint_ms: int, maxt_ms: int
) -> FlatSeries:
    """All samples in [mint_ms, maxt_ms] of the matching series, flattened.

    Uses the Queryable's batch method `select_batch` when it has one: it
    returns (labels, timestamps, values, offsets) with the samples of series i
    at offsets[i]:offsets[i+1], labels a LabelTable or a sequence of mappings.
    """
    batch = getattr(q, "select_batch", None)
    if batch is not None:
        labels, ts_b, vals_b, off_b = batch(matchers, mint_ms, maxt_ms)
        table = labels if isinstance(labels, LabelTable) else LabelTable.from_dicts(list(labels))
        return FlatSeries(
            table,
            np.asarray(ts_b, dtype=np.int64),
            np.asarray(vals_b, dtype=np.float64),
            np.asarray(off_b, dtype=np.intp),
        )
    label_rows: list[Mapping[str, str]] = []
    ts_parts: list[I64] = []
    val_parts: list[F64] = []
    for s in q.select(matchers, mint_ms, maxt_ms):
        label_rows.append(s.labels)
        ts_parts.append(np.asarray(s.timestamps, dtype=np.int64))
        val_parts.append(np.asarray(s.values, dtype=np.float64))
    lens = np.array([len(p) for p in ts_parts], dtype=np.intp)
    off = np.zeros(len(lens) + 1, dtype=np.intp)
    np.cumsum(lens, out=off[1:])
    ts = np.concatenate(ts_parts) if ts_parts else np.zeros(0, np.int64)
    vals = np.concatenate(val_parts) if val_parts else np.zeros(0)
    return FlatSeries(LabelTable.from_dicts(label_rows), ts, vals, off)


def drop_stale(flat: FlatSeries) -> FlatSeries:
    """Range vectors never contain staleness markers."""
    stale = is_stale(flat.vals)
    if not stale.any():
        return flat
    keep = ~stale
    kept_before = np.zeros(len(keep) + 1, dtype=np.intp)
    np.cumsum(keep, out=kept_before[1:])
    off = kept_before[flat.off]
    return FlatSeries(flat.labels, flat.ts[keep], flat.vals[keep], off)


def _search(flat: FlatSeries, times: I64) -> Idx:
    """For every series i and time t: the number of samples with ts <= t,
    as an absolute index into the flat arrays (so [off[i], result) are they)."""
    n = flat.n
    s = len(times)
    if len(flat.ts) == 0:
        return np.broadcast_to(flat.off[:-1, None], (n, s)).copy()
    if s <= 4:
        # Few steps: count samples <= t per series in one pass over the data,
        # cheaper than a binary search per series.
        out = np.empty((n, s), dtype=np.intp)
        starts = flat.off[:-1]
        nonempty = flat.off[1:] > starts
        for j, t in enumerate(times.tolist()):
            upto = np.zeros(n, dtype=np.intp)
            if nonempty.any():
                counts = np.add.reduceat((flat.ts <= t).astype(np.intp), starts[nonempty])
                upto[nonempty] = counts
            out[:, j] = starts + upto
        return out
    tmin = int(flat.ts.min())
    tmax = int(flat.ts.max())
    span = tmax - tmin + 2
    if n * span < 2**62:
        sid = np.repeat(np.arange(n, dtype=np.int64), np.diff(flat.off))
        keys = sid * span + (flat.ts - tmin)
        q = np.clip(times.astype(np.int64) - tmin, -1, span - 2)
        qk = np.arange(n, dtype=np.int64)[:, None] * span + q[None, :]
        return np.searchsorted(keys, qk.ravel(), side="right").reshape(n, s).astype(np.intp)
    out = np.empty((n, s), dtype=np.intp)
    for i in range(n):
        a, b = flat.off[i], flat.off[i + 1]
        out[i] = a + np.searchsorted(flat.ts[a:b], times, side="right")
    return out


def instant_lookup(
    flat: FlatSeries, times: I64, lookback_ms: int
) -> tuple[F64, npt.NDArray[np.bool_], I64]:
    """Latest sample in (t - lookback, t] per series and step.

    Returns (values, present, sample timestamps), each (N, S).
    """
    n, s = flat.n, len(times)
    if n == 0:
        return np.zeros((0, s)), np.zeros((0, s), dtype=bool), np.zeros((0, s), dtype=np.int64)
    idx = _search(flat, times) - 1
    present = idx >= flat.off[:-1, None]
    if len(flat.ts) == 0:
        return np.zeros((n, s)), present, np.zeros((n, s), dtype=np.int64)
    idx_c = np.clip(idx, 0, len(flat.ts) - 1)
    sts = flat.ts[idx_c]
    vals = flat.vals[idx_c]
    present &= sts > (times[None, :] - lookback_ms)
    present &= ~is_stale(vals)
    return vals, present, sts


def windows(flat: FlatSeries, times: I64, range_ms: int) -> tuple[Idx, Idx]:
    """[lo, hi) flat indices of the samples in (t - range, t] per series and step."""
    lo = _search(flat, times - range_ms)
    hi = _search(flat, times)
    return lo, hi


def select_instant_fast(
    q: Any, matchers: Sequence[LabelMatcher], t_ms: int, lookback_ms: int
) -> tuple[LabelTable, F64, I64 | None] | None:
    """Use the Queryable's batch method `select_instant` when it has one.

    It returns (labels, values) or (labels, values, timestamps) with the
    latest non-stale sample in (t - lookback, t] of each series that has
    one; `labels` is a LabelTable or a sequence of label mappings.
    """
    fn = getattr(q, "select_instant", None)
    if fn is None:
        return None
    got = fn(matchers, t_ms, lookback_ms)
    labels, values = got[0], got[1]
    stamps = got[2] if len(got) > 2 else None
    table = labels if isinstance(labels, LabelTable) else LabelTable.from_dicts(list(labels))
    vals = np.asarray(values, dtype=np.float64)
    ts = None if stamps is None else np.asarray(stamps, dtype=np.int64)
    return table, vals, ts
