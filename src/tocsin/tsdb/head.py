"""The in-memory head: recent samples of every series, laid out for numpy.

Per series, timestamps and values live in two `array.array`s: appends are a
C-level push, reads are zero-copy numpy views copied out once. Across all
series, `last_t`/`last_v` columns hold each series' newest sample so an
instant selection at "now" is a single gather over the selected refs.

Samples must arrive in time order per series, as in Prometheus; older or
duplicate samples are rejected and counted, never silently merged.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tocsin.tsdb.types import STALE_NAN_BITS

NO_TIME = np.iinfo(np.int64).min

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass
class AppendStats:
    """Counters of what the head refused, per reason."""

    out_of_order: int = 0
    duplicate: int = 0
    out_of_bounds: int = 0

    def total(self) -> int:
        return self.out_of_order + self.duplicate + self.out_of_bounds


class PendingLog:
    """Accepted samples not yet flushed to disk, in arrival order."""

    def __init__(self) -> None:
        self._batches: list[tuple[I64, I64, F64]] = []
        self._refs: list[int] = []
        self._ts: list[int] = []
        self._vs: list[float] = []

    def add_one(self, ref: int, t_ms: int, value: float) -> None:
        self._refs.append(ref)
        self._ts.append(t_ms)
        self._vs.append(value)

    def add_batch(self, refs: I64, t_ms: I64, values: F64) -> None:
        self._seal()
        self._batches.append((refs, t_ms, values))

    def _seal(self) -> None:
        if self._refs:
            self._batches.append(
                (
                    np.asarray(self._refs, dtype=np.int64),
                    np.asarray(self._ts, dtype=np.int64),
                    np.asarray(self._vs, dtype=np.float64),
                )
            )
            self._refs, self._ts, self._vs = [], [], []

    def __len__(self) -> int:
        return sum(len(b[0]) for b in self._batches) + len(self._refs)

    def take(self) -> tuple[I64, I64, F64]:
        """All pending samples, concatenated, and forget them."""
        self._seal()
        batches, self._batches = self._batches, []
        if not batches:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.copy(), np.zeros(0, dtype=np.float64)
        return (
            np.concatenate([b[0] for b in batches]),
            np.concatenate([b[1] for b in batches]),
            np.concatenate([b[2] for b in batches]),
        )

    def restore(self, refs: I64, ts: I64, vs: F64) -> None:
        """Put samples back in front (a flush failed)."""
        self._seal()
        self._batches.insert(0, (refs, ts, vs))


class Head:
    """Recent samples of all series. Not thread-safe; the TSDB locks around it."""

    def __init__(self) -> None:
        self._ts: list[array[int] | None] = []
        self._vs: list[array[float] | None] = []
        self.last_t: I64 = np.full(0, NO_TIME, dtype=np.int64)
        self.last_v: F64 = np.zeros(0, dtype=np.float64)
        # The sample before the newest: evaluating just before a fresh batch
        # (a rule a little behind the detector) stays a gather too.
        self.prev_t: I64 = np.full(0, NO_TIME, dtype=np.int64)
        self.prev_v: F64 = np.zeros(0, dtype=np.float64)
        self.min_t: int = 0
        """Samples older than this are refused (their block is already on disk)."""
        self.stats = AppendStats()
        self.pending = PendingLog()
        self.samples = 0

    def _grow(self, ref: int) -> None:
        n = len(self._ts)
        if ref < n:
            return
        extra = max(ref + 1 - n, n // 2, 1024)
        self._ts.extend([None] * extra)
        self._vs.extend([None] * extra)
        self.last_t = np.concatenate([self.last_t, np.full(extra, NO_TIME, dtype=np.int64)])
        self.last_v = np.concatenate([self.last_v, np.zeros(extra, dtype=np.float64)])
        self.prev_t = np.concatenate([self.prev_t, np.full(extra, NO_TIME, dtype=np.int64)])
        self.prev_v = np.concatenate([self.prev_v, np.zeros(extra, dtype=np.float64)])

    def _arrays(self, ref: int) -> tuple[array[int], array[float]]:
        ts = self._ts[ref]
        if ts is None:
            ts = self._ts[ref] = array("q")
            self._vs[ref] = array("d")
        vs = self._vs[ref]
        assert vs is not None
        return ts, vs

    def _refuse(self, ts: array[int], vs: array[float], t_ms: int, value: float) -> bool:
        if t_ms < self.min_t:
            self.stats.out_of_bounds += 1
            return True
        if ts and ts[-1] >= t_ms:
            if ts[-1] == t_ms and _same(vs[-1], value):
                self.stats.duplicate += 1
            else:
                self.stats.out_of_order += 1
            return True
        return False

    def append(self, ref: int, t_ms: int, value: float, *, log: bool = True) -> bool:
        self._grow(ref)
        ts, vs = self._arrays(ref)
        if self._refuse(ts, vs, t_ms, value):
            return False
        ts.append(t_ms)
        vs.append(value)
        self.prev_t[ref] = self.last_t[ref]
        self.prev_v[ref] = self.last_v[ref]
        self.last_t[ref] = t_ms
        self.last_v[ref] = value
        self.samples += 1
        if log:
            self.pending.add_one(ref, t_ms, value)
        return True

    def append_refs(self, refs: I64, t_ms: int, values: F64, *, log: bool = True) -> int:
        """Append one sample per ref, all at `t_ms`. Returns how many were accepted."""
        if len(refs) == 0:
            return 0
        self._grow(int(refs.max()))
        # Fast path: every ref is strictly newer and distinct -> no per-sample checks.
        last = self.last_t[refs]
        if t_ms >= self.min_t and bool((last < t_ms).all()) and _distinct(refs):
            tss, vss = self._ts, self._vs
            for r, v in zip(refs.tolist(), values.tolist(), strict=True):
                ts = tss[r]
                if ts is None:
                    ts, vs = self._arrays(r)
                else:
                    vs = vss[r]
                ts.append(t_ms)
                vs.append(v)
            accepted_refs, accepted_vals = refs, values
        else:
            keep: list[int] = []
            for i, (r, v) in enumerate(zip(refs.tolist(), values.tolist(), strict=True)):
                ts, vs = self._arrays(r)
                if self._refuse(ts, vs, t_ms, v):
                    continue
                ts.append(t_ms)
                vs.append(v)
                keep.append(i)
            idx = np.asarray(keep, dtype=np.int64)
            accepted_refs, accepted_vals = refs[idx], values[idx]
        self.prev_t[accepted_refs] = self.last_t[accepted_refs]
        self.prev_v[accepted_refs] = self.last_v[accepted_refs]
        self.last_t[accepted_refs] = t_ms
        self.last_v[accepted_refs] = accepted_vals
        n = len(accepted_refs)
        self.samples += n
        if log and n:
            self.pending.add_batch(
                np.array(accepted_refs, dtype=np.int64),
                np.full(n, t_ms, dtype=np.int64),
                np.array(accepted_vals, dtype=np.float64),
            )
        return n

    def load(self, ref: int, ts: I64, vs: F64) -> None:
        """Bulk-insert already persisted samples (restart), keeping time order."""
        self._grow(ref)
        cur_ts, cur_vs = self._arrays(ref)
        if cur_ts:
            newer = ts > cur_ts[-1]
            ts, vs = ts[newer], vs[newer]
        if len(ts) == 0:
            return
        cur_ts.frombytes(np.ascontiguousarray(ts, dtype=np.int64).tobytes())
        cur_vs.frombytes(np.ascontiguousarray(vs, dtype=np.float64).tobytes())
        self._sync_columns(ref, cur_ts, cur_vs)
        self.samples += len(ts)

    def gather(self, refs: I64, mint: int, maxt: int) -> tuple[I64, I64, I64, F64]:
        """Samples in [mint, maxt] of `refs`, concatenated.

        Returns (positions into `refs` of series with samples, their sample
        counts, timestamps, values).
        """
        pos: list[int] = []
        counts: list[int] = []
        t_parts: list[bytes] = []
        v_parts: list[bytes] = []
        tss, vss = self._ts, self._vs
        n = len(tss)
        left, right = bisect.bisect_left, bisect.bisect_right
        for i, ref in enumerate(refs.tolist()):
            ts = tss[ref] if ref < n else None
            if not ts or ts[-1] < mint or ts[0] > maxt:
                continue
            lo = left(ts, mint)
            hi = right(ts, maxt)
            if hi <= lo:
                continue
            pos.append(i)
            counts.append(hi - lo)
            t_parts.append(ts[lo:hi].tobytes())
            v_parts.append(vss[ref][lo:hi].tobytes())
        return (
            np.asarray(pos, dtype=np.int64),
            np.asarray(counts, dtype=np.int64),
            np.frombuffer(b"".join(t_parts), dtype=np.int64),
            np.frombuffer(b"".join(v_parts), dtype=np.float64),
        )

    def block(self, start: int, end: int) -> tuple[I64, I64, I64, F64]:
        """Every series' samples in [start, end], concatenated.

        Returns (refs, counts, timestamps, values), series in ref order.
        """
        refs: list[int] = []
        counts: list[int] = []
        t_parts: list[bytes] = []
        v_parts: list[bytes] = []
        for ref, ts in enumerate(self._ts):
            if not ts or ts[-1] < start or ts[0] > end:
                continue
            lo = bisect.bisect_left(ts, start)
            hi = bisect.bisect_right(ts, end)
            if hi <= lo:
                continue
            vs = self._vs[ref]
            assert vs is not None
            refs.append(ref)
            counts.append(hi - lo)
            t_parts.append(ts[lo:hi].tobytes())
            v_parts.append(vs[lo:hi].tobytes())
        return (
            np.asarray(refs, dtype=np.int64),
            np.asarray(counts, dtype=np.int64),
            np.frombuffer(b"".join(t_parts), dtype=np.int64),
            np.frombuffer(b"".join(v_parts), dtype=np.float64),
        )

    def earliest_from(self, t: int) -> int | None:
        """The oldest sample time at or after `t` over all series, if any."""
        best: int | None = None
        for ref in np.flatnonzero(self.last_t >= t).tolist():
            ts = self._ts[ref]
            if not ts:
                continue
            first = ts[bisect.bisect_left(ts, t)]
            if best is None or first < best:
                best = first
        return best

    def has(self, ref: int) -> bool:
        return ref < len(self._ts) and bool(self._ts[ref])

    def first_t(self, ref: int) -> int | None:
        ts = self._ts[ref] if ref < len(self._ts) else None
        return ts[0] if ts else None

    def bounds(self, ref: int) -> tuple[int, int] | None:
        ts = self._ts[ref] if ref < len(self._ts) else None
        return (ts[0], ts[-1]) if ts else None

    def range(self, ref: int, mint: int, maxt: int) -> tuple[I64, F64]:
        """Copies of the samples with mint <= t <= maxt."""
        ts = self._ts[ref] if ref < len(self._ts) else None
        if not ts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        vs = self._vs[ref]
        lo = bisect.bisect_left(ts, mint)
        hi = bisect.bisect_right(ts, maxt)
        return (
            np.array(ts[lo:hi], dtype=np.int64) if hi > lo else np.zeros(0, dtype=np.int64),
            np.array(vs[lo:hi], dtype=np.float64) if hi > lo else np.zeros(0, dtype=np.float64),  # type: ignore[index]
        )

    def instant(self, refs: I64, t_ms: int, lookback_ms: int) -> tuple[I64, F64, I64]:
        """For each ref, the newest sample at or before t within the lookback.

        Returns the positions (into `refs`) that have a non-stale value, those
        values and their timestamps. Evaluating at or after a series' newest sample (the
        normal case for rules) is a pure gather; only series with samples
        after `t_ms` need a per-series binary search.
        """
        if len(refs) == 0:
            z = np.zeros(0, dtype=np.int64)
            return z, np.zeros(0, dtype=np.float64), z.copy()
        self._grow(int(refs.max()))
        lt = self.last_t[refs]
        lv = self.last_v[refs]
        newer = lt > t_ms
        if newer.any():
            idx = np.flatnonzero(newer)
            pr = refs[idx]
            lt[idx] = self.prev_t[pr]
            lv[idx] = self.prev_v[pr]
            # Older still: binary search in those few series.
            for i in idx[lt[idx] > t_ms].tolist():
                ts = self._ts[int(refs[i])]
                assert ts is not None
                j = bisect.bisect_right(ts, t_ms) - 1
                if j >= 0:
                    lt[i] = ts[j]
                    lv[i] = self._vs[int(refs[i])][j]  # type: ignore[index]
                else:
                    lt[i] = NO_TIME
        ok = (lt > t_ms - lookback_ms) & (lt != NO_TIME) & (lv.view(np.uint64) != STALE_NAN_BITS)
        pos = np.flatnonzero(ok).astype(np.int64)
        return pos, lv[pos], lt[pos]

    def _sync_columns(self, ref: int, ts: array[int], vs: array[float]) -> None:
        self.last_t[ref], self.last_v[ref] = ts[-1], vs[-1]
        if len(ts) > 1:
            self.prev_t[ref], self.prev_v[ref] = ts[-2], vs[-2]
        else:
            self.prev_t[ref] = NO_TIME

    def truncate(self, before_t: int) -> list[int]:
        """Drop samples older than `before_t`; return refs left with no samples."""
        emptied: list[int] = []
        for ref, ts in enumerate(self._ts):
            if not ts or ts[0] >= before_t:
                continue
            k = bisect.bisect_left(ts, before_t)
            del ts[:k]
            vs = self._vs[ref]
            assert vs is not None
            del vs[:k]
            self.samples -= k
            if not ts:
                emptied.append(ref)
        return emptied

    def forget(self, ref: int) -> None:
        if ref < len(self._ts):
            if self._ts[ref]:
                self.samples -= len(self._ts[ref])  # type: ignore[arg-type]
            self._ts[ref] = None
            self._vs[ref] = None
            self.last_t[ref] = NO_TIME
            self.prev_t[ref] = NO_TIME

    def refs_with_samples(self) -> list[int]:
        return [r for r, ts in enumerate(self._ts) if ts]

    def memory_bytes(self) -> int:
        """Bytes held by sample arrays and columns (not labels or index)."""
        total = self.last_t.nbytes + self.last_v.nbytes
        for ts in self._ts:
            if ts is not None:
                total += 2 * (ts.buffer_info()[1] * 8 + 64)
        return total


def _same(a: float, b: float) -> bool:
    return np.float64(a).view(np.uint64) == np.float64(b).view(np.uint64)


def _distinct(refs: I64) -> bool:
    if len(refs) < 2:
        return True
    d = np.diff(refs)
    if bool((d > 0).all()):
        return True
    return len(np.unique(refs)) == len(refs)
