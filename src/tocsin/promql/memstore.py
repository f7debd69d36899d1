"""A simple in-memory Queryable for tests, the promqltest runner and benches.

Appends go to per-series Python lists; the first query after an append builds
flat sorted arrays and coded label columns, so selections over 100,000 series
are array operations. It also offers the batch method `select_instant` that
the engine uses for instant selectors when a Queryable provides it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from tocsin.errors import UnsupportedFeature
from tocsin.promql.labels import LabelTable
from tocsin.tsdb.types import LabelMatcher, SeriesData, is_stale

Key = tuple[tuple[str, str], ...]


class MemStore:
    """Series in memory. Implements `Queryable` and `Appender`."""

    def __init__(self) -> None:
        self._ids: dict[Key, int] = {}
        self._labels: list[dict[str, str]] = []
        self._ts: list[list[int]] = []
        self._vals: list[list[float]] = []
        self._unsupported: list[tuple[dict[str, str], str]] = []
        self._built: _Built | None = None

    # writing ---------------------------------------------------------------
    def append(self, labels: Mapping[str, str], t_ms: int, value: float) -> None:
        key = tuple(sorted((k, v) for k, v in labels.items() if v != ""))
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = len(self._labels)
            self._labels.append(dict(key))
            self._ts.append([])
            self._vals.append([])
        self._ts[sid].append(int(t_ms))
        self._vals[sid].append(float(value))
        self._built = None

    def add_unsupported(self, labels: Mapping[str, str], reason: str) -> None:
        """Remember a series whose samples tocsin cannot hold (e.g. a native
        histogram): selecting it raises UnsupportedFeature instead of
        silently answering without it."""
        self._unsupported.append((dict(labels), reason))

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    # reading ---------------------------------------------------------------
    def _build(self) -> _Built:
        if self._built is None:
            self._built = _Built(self._labels, self._ts, self._vals)
        return self._built

    def _check_supported(self, matchers: Sequence[LabelMatcher]) -> None:
        for labels, reason in self._unsupported:
            if all(m.matches(labels.get(m.name, "")) for m in matchers):
                raise UnsupportedFeature(reason)

    def select(
        self, matchers: Sequence[LabelMatcher], mint_ms: int, maxt_ms: int
    ) -> Iterator[SeriesData]:
        self._check_supported(matchers)
        b = self._build()
        for sid in b.match(matchers).tolist():
            a, z = b.off[sid], b.off[sid + 1]
            ts = b.ts[a:z]
            lo, hi = np.searchsorted(ts, [mint_ms, maxt_ms + 1])
            if hi > lo:
                yield SeriesData(self._labels[sid], ts[lo:hi], b.vals[a:z][lo:hi])

    def select_batch(
        self, matchers: Sequence[LabelMatcher], mint_ms: int, maxt_ms: int
    ) -> tuple[LabelTable, npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.intp]]:
        """Samples in [mint, maxt] of every matching series, in flat arrays."""
        self._check_supported(matchers)
        b = self._build()
        ids = b.match(matchers)
        if len(b.ts) == 0 or len(ids) == 0:
            return LabelTable.empty(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(1, np.intp)
        if mint_ms <= b.tmin and maxt_ms >= b.tmax:
            if len(ids) == len(b.off) - 1:
                return b.table, b.ts, b.vals, b.off
            lo, hi = b.off[ids], b.off[ids + 1]
        else:
            base = ids.astype(np.int64) * b.span
            lo_q = np.clip(mint_ms - 1 - b.tmin, -1, b.span - 2)
            hi_q = np.clip(maxt_ms - b.tmin, -1, b.span - 2)
            lo = np.searchsorted(b.keys, base + lo_q, side="right")
            hi = np.searchsorted(b.keys, base + hi_q, side="right")
        lens = hi - lo
        keep = lens > 0
        ids, lo, lens = ids[keep], lo[keep], lens[keep]
        off = np.zeros(len(ids) + 1, dtype=np.intp)
        np.cumsum(lens, out=off[1:])
        # Gather indices lo[i] .. lo[i]+lens[i]-1 for every series at once.
        idx = np.arange(off[-1], dtype=np.intp) - np.repeat(off[:-1] - lo, lens)
        return b.table.take(ids), b.ts[idx], b.vals[idx], off

    def select_instant(
        self, matchers: Sequence[LabelMatcher], t_ms: int, lookback_ms: int
    ) -> tuple[LabelTable, npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Latest non-stale sample in (t - lookback, t] of every matching series."""
        self._check_supported(matchers)
        b = self._build()
        ids = b.match(matchers)
        if len(b.ts) == 0 or len(ids) == 0:
            return LabelTable.empty(0), np.zeros(0), np.zeros(0, np.int64)
        if t_ms >= b.tmax:
            # Evaluating at "now": every series' latest sample is the answer.
            sts, vals = b.last_ts[ids], b.last_val[ids]
            ok = b.nonempty[ids]
        else:
            q = np.clip(t_ms - b.tmin, -1, b.span - 2)
            idx = np.searchsorted(b.keys, ids.astype(np.int64) * b.span + q, side="right") - 1
            ok = idx >= b.off[ids]
            idx_c = np.clip(idx, 0, len(b.ts) - 1)
            sts = b.ts[idx_c]
            vals = b.vals[idx_c]
        ok &= sts > t_ms - lookback_ms
        ok &= ~is_stale(vals)
        return b.table.take(ids[ok]), vals[ok], sts[ok]

    def label_names(self, matchers: Sequence[LabelMatcher] = ()) -> list[str]:
        b = self._build()
        ids = b.match(matchers)
        return sorted(n for n, (codes, _) in b.table.cols.items() if codes[ids].any())

    def label_values(self, name: str, matchers: Sequence[LabelMatcher] = ()) -> list[str]:
        b = self._build()
        col = b.table.cols.get(name)
        if col is None:
            return []
        codes, values = col
        return sorted(values[c] for c in np.unique(codes[b.match(matchers)]).tolist() if c)

    def __len__(self) -> int:
        return len(self._labels)


class _Built:
    """Flat sorted arrays and label columns of a MemStore snapshot."""

    def __init__(
        self, labels: list[dict[str, str]], ts: list[list[int]], vals: list[list[float]]
    ) -> None:
        n = len(labels)
        self.table = LabelTable.from_dicts(labels)
        ts_parts, val_parts = [], []
        for t_list, v_list in zip(ts, vals, strict=True):
            t = np.asarray(t_list, dtype=np.int64)
            v = np.asarray(v_list, dtype=np.float64)
            if len(t) > 1 and not (np.diff(t) > 0).all():
                # Keep the last write for a timestamp, like an overwrite.
                order = np.argsort(t, kind="stable")
                t, v = t[order], v[order]
                last = np.append(t[1:] != t[:-1], True)
                t, v = t[last], v[last]
            ts_parts.append(t)
            val_parts.append(v)
        lens = np.array([len(p) for p in ts_parts], dtype=np.intp)
        self.off = np.zeros(n + 1, dtype=np.intp)
        np.cumsum(lens, out=self.off[1:])
        self.ts = np.concatenate(ts_parts) if n else np.zeros(0, np.int64)
        self.vals = np.concatenate(val_parts) if n else np.zeros(0)
        self.tmin = int(self.ts.min()) if len(self.ts) else 0
        self.tmax = int(self.ts.max()) if len(self.ts) else 0
        self.nonempty = lens > 0
        last = np.maximum(self.off[1:] - 1, 0)
        self.last_ts = self.ts[last] if len(self.ts) else np.zeros(n, np.int64)
        self.last_val = self.vals[last] if len(self.ts) else np.zeros(n)
        self._match_cache: dict[tuple[LabelMatcher, ...], npt.NDArray[np.intp]] = {}
        self.span = (int(self.ts.max()) - self.tmin + 2) if len(self.ts) else 1
        if n * self.span >= 2**62:
            raise ValueError("memstore time span too wide for its composite index")
        sid = np.repeat(np.arange(n, dtype=np.int64), lens)
        self.keys = sid * self.span + (self.ts - self.tmin)

    def match(self, matchers: Sequence[LabelMatcher]) -> npt.NDArray[np.intp]:
        key = tuple(matchers)
        hit = self._match_cache.get(key)
        if hit is None:
            hit = self._match_cache[key] = self._match(matchers)
        return hit

    def _match(self, matchers: Sequence[LabelMatcher]) -> npt.NDArray[np.intp]:
        mask = np.ones(self.table.n, dtype=bool)
        for m in matchers:
            col = self.table.cols.get(m.name)
            if col is None:
                if not m.matches(""):
                    return np.zeros(0, dtype=np.intp)
                continue
            codes, values = col
            ok = np.fromiter((m.matches(v) for v in values), dtype=bool, count=len(values))
            mask &= ok[codes]
        return np.flatnonzero(mask)
