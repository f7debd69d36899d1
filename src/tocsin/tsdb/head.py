"""The in-memory head: recent samples of every series, laid out by time batch.

Samples are kept as they arrive, in segments of columns (ref, time, value),
not in a pair of arrays per series: a fleet sweep appends one sample to each
of 300,000 series at one timestamp, and that batch is stored as is, one
segment with one time, an int32 ref column (shared with the previous batch
when the same series are written again, as every steady sweep does) and a
float64 value column: 8-12 B per sample and no object per series. Small
appends (single samples, scrapes, rule output) collect in an open segment
that is sealed every `_OPEN_MAX` samples.

Per series, columns indexed by ref hold the newest and previous sample, the
first sample time and the sample count: appends check order against them,
and an instant selection at "now" is a single gather over the selected refs.
Reading a time range filters the segments overlapping it; since each series'
samples arrive in time order, a stable sort by series of the samples in
arrival order leaves every series in time order.

Samples must arrive in time order per series, as in Prometheus; older or
duplicate samples are rejected and counted, never silently merged.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tocsin.tsdb.types import STALE_NAN_BITS

NO_TIME = np.iinfo(np.int64).min

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]

_OWN_SEGMENT = 1024
"""Batches at least this big become a segment of their own."""
_OPEN_MAX = 65536
"""The open segment is sealed at this many samples."""


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


@dataclass(slots=True)
class _Segment:
    """Samples in arrival order; `ts` None means every sample is at `mint`."""

    refs: I32
    ts: I64 | None
    vs: F64
    mint: int
    maxt: int

    def times(self) -> I64:
        if self.ts is not None:
            return self.ts
        return np.full(len(self.refs), self.mint, dtype=np.int64)

    def nbytes(self) -> int:
        return self.vs.nbytes + (self.ts.nbytes if self.ts is not None else 0)

    def where(self, keep: npt.NDArray[np.bool_]) -> _Segment | None:
        """The samples where `keep` holds, or None if none does."""
        if keep.all():
            return self
        if not keep.any():
            return None
        ts = self.ts[keep] if self.ts is not None else None
        return _Segment(
            self.refs[keep],
            ts,
            self.vs[keep],
            int(ts.min()) if ts is not None else self.mint,
            int(ts.max()) if ts is not None else self.maxt,
        )


class Head:
    """Recent samples of all series. Not thread-safe; the TSDB locks around it."""

    def __init__(self) -> None:
        self._segments: list[_Segment] = []
        self._open_refs: array[int] = array("i")
        self._open_ts: array[int] = array("q")
        self._open_vs: array[float] = array("d")
        self.last_t: I64 = np.full(0, NO_TIME, dtype=np.int64)
        self.last_v: F64 = np.zeros(0, dtype=np.float64)
        # The sample before the newest: evaluating just before a fresh batch
        # (a rule a little behind the detector) stays a gather too.
        self.prev_t: I64 = np.full(0, NO_TIME, dtype=np.int64)
        self.prev_v: F64 = np.zeros(0, dtype=np.float64)
        self._first_t: I64 = np.full(0, NO_TIME, dtype=np.int64)
        self._count: I32 = np.zeros(0, dtype=np.int32)
        self.min_t: int = 0
        """Samples older than this are refused (their block is already on disk)."""
        self.stats = AppendStats()
        self.pending = PendingLog()
        self.samples = 0

    # -- layout -----------------------------------------------------------------

    def _grow(self, ref: int) -> None:
        n = len(self.last_t)
        if ref < n:
            return
        # Small headroom: at 300,000 series each 1 % of spare capacity is 130 kB,
        # while a copy of the columns costs a few milliseconds.
        extra = max(ref + 1 - n, n // 8, 1024)

        def more(col: npt.NDArray[np.generic], fill: int | float) -> npt.NDArray[np.generic]:
            return np.concatenate([col, np.full(extra, fill, dtype=col.dtype)])

        self.last_t = more(self.last_t, NO_TIME)  # type: ignore[assignment]
        self.last_v = more(self.last_v, 0.0)  # type: ignore[assignment]
        self.prev_t = more(self.prev_t, NO_TIME)  # type: ignore[assignment]
        self.prev_v = more(self.prev_v, 0.0)  # type: ignore[assignment]
        self._first_t = more(self._first_t, NO_TIME)  # type: ignore[assignment]
        self._count = more(self._count, 0)  # type: ignore[assignment]

    def _seal(self) -> None:
        """Turn the open segment into a sealed one."""
        seg = self._open_segment()
        if seg is None:
            return
        self._segments.append(seg)
        self._open_refs, self._open_ts, self._open_vs = array("i"), array("q"), array("d")

    def _open_segment(self) -> _Segment | None:
        """The open segment's samples as a (copied) segment, None if it is empty."""
        if not self._open_refs:
            return None
        ts = np.array(self._open_ts, dtype=np.int64)
        return _Segment(
            np.array(self._open_refs, dtype=np.int32),
            ts,
            np.array(self._open_vs, dtype=np.float64),
            int(ts.min()),
            int(ts.max()),
        )

    def _add_open(self, refs: I64, ts: I64, vs: F64) -> None:
        self._open_refs.frombytes(refs.astype(np.int32).tobytes())
        self._open_ts.frombytes(np.ascontiguousarray(ts, dtype=np.int64).tobytes())
        self._open_vs.frombytes(np.ascontiguousarray(vs, dtype=np.float64).tobytes())
        if len(self._open_refs) >= _OPEN_MAX:
            self._seal()

    def _add_batch(self, refs: I64, t_ms: int, values: F64) -> None:
        """Store samples all at `t_ms` (refs distinct)."""
        if len(refs) < _OWN_SEGMENT:
            self._add_open(refs, np.full(len(refs), t_ms, dtype=np.int64), values)
            return
        self._seal()
        r32 = refs.astype(np.int32)
        # Steady sweeps write the same series every time: share their ref column.
        for seg in reversed(self._segments[-2:]):
            if np.array_equal(seg.refs, r32):
                r32 = seg.refs
                break
        vs = np.array(values, dtype=np.float64)
        self._segments.append(_Segment(r32, None, vs, t_ms, t_ms))

    def _all_segments(self) -> Iterator[_Segment]:
        """Sealed segments and a copy of the open one, in arrival order."""
        yield from self._segments
        seg = self._open_segment()
        if seg is not None:
            yield seg

    def _overlapping(self, mint: int, maxt: int) -> Iterator[_Segment]:
        for seg in self._all_segments():
            if seg.maxt >= mint and seg.mint <= maxt:
                yield seg

    # -- appending ----------------------------------------------------------------

    def _refuse(self, ref: int, t_ms: int, value: float) -> bool:
        if t_ms < self.min_t:
            self.stats.out_of_bounds += 1
            return True
        if self._count[ref]:
            last = int(self.last_t[ref])
            if last >= t_ms:
                if last == t_ms and _same(float(self.last_v[ref]), value):
                    self.stats.duplicate += 1
                else:
                    self.stats.out_of_order += 1
                return True
        return False

    def _note(self, ref: int, t_ms: int, value: float) -> None:
        """Update the per-series columns for one accepted sample."""
        if not self._count[ref]:
            self._first_t[ref] = t_ms
        self._count[ref] += 1
        self.prev_t[ref] = self.last_t[ref]
        self.prev_v[ref] = self.last_v[ref]
        self.last_t[ref] = t_ms
        self.last_v[ref] = value

    def append(self, ref: int, t_ms: int, value: float, *, log: bool = True) -> bool:
        self._grow(ref)
        if self._refuse(ref, t_ms, value):
            return False
        self._open_refs.append(ref)
        self._open_ts.append(t_ms)
        self._open_vs.append(value)
        if len(self._open_refs) >= _OPEN_MAX:
            self._seal()
        self._note(ref, t_ms, value)
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
            accepted_refs, accepted_vals = refs, values
            fresh = accepted_refs[self._count[accepted_refs] == 0]
            self._first_t[fresh] = t_ms
            self._count[accepted_refs] += 1
            self.prev_t[accepted_refs] = self.last_t[accepted_refs]
            self.prev_v[accepted_refs] = self.last_v[accepted_refs]
            self.last_t[accepted_refs] = t_ms
            self.last_v[accepted_refs] = accepted_vals
        else:
            # One by one, so a ref repeated in the batch is checked against
            # its own earlier sample.
            keep: list[int] = []
            for i, (r, v) in enumerate(zip(refs.tolist(), values.tolist(), strict=True)):
                if not self._refuse(r, t_ms, v):
                    self._note(r, t_ms, v)
                    keep.append(i)
            idx = np.asarray(keep, dtype=np.int64)
            accepted_refs, accepted_vals = refs[idx], values[idx]
        n = len(accepted_refs)
        if n:
            self._add_batch(accepted_refs, t_ms, accepted_vals)
        self.samples += n
        if log and n:
            self.pending.add_batch(
                np.array(accepted_refs, dtype=np.int64),
                np.full(n, t_ms, dtype=np.int64),
                np.array(accepted_vals, dtype=np.float64),
            )
        return n

    def load(self, ref: int, ts: I64, vs: F64) -> None:
        """Bulk-insert already persisted samples of one series (restart), keeping time order."""
        self.load_many(np.full(len(ts), ref, dtype=np.int64), ts, vs)

    def load_many(self, refs: I64, ts: I64, vs: F64) -> None:
        """`load` for many series at once: sample i belongs to `refs[i]`, and
        each series' samples are in time order. Stored as one segment."""
        if not len(refs):
            return
        self._grow(int(refs.max()))
        had = self._count[refs] > 0
        keep = ~had | (ts > self.last_t[refs])
        refs, ts, vs = refs[keep], ts[keep], vs[keep]
        if not len(refs):
            return
        self._seal()
        r32 = refs.astype(np.int32)
        ts = np.ascontiguousarray(ts, dtype=np.int64)
        vs = np.ascontiguousarray(vs, dtype=np.float64)
        self._segments.append(_Segment(r32, ts, vs, int(ts.min()), int(ts.max())))
        # Per series: its first, last and second-to-last new sample.
        order = np.argsort(r32, kind="stable")
        grouped = r32[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        ends = np.r_[starts[1:], len(grouped)] - 1
        series = grouped[starts].astype(np.int64)
        fresh = self._count[series] == 0
        self._first_t[series[fresh]] = ts[order[starts[fresh]]]
        self._count[series] += (ends - starts + 1).astype(np.int32)
        two = ends > starts
        self.prev_t[series[~two & ~fresh]] = self.last_t[series[~two & ~fresh]]
        self.prev_v[series[~two & ~fresh]] = self.last_v[series[~two & ~fresh]]
        self.prev_t[series[~two & fresh]] = NO_TIME
        self.prev_t[series[two]] = ts[order[ends[two] - 1]]
        self.prev_v[series[two]] = vs[order[ends[two] - 1]]
        self.last_t[series] = ts[order[ends]]
        self.last_v[series] = vs[order[ends]]
        self.samples += len(refs)

    # -- reading ------------------------------------------------------------------

    def _collect(self, where: I64 | None, mint: int, maxt: int) -> tuple[I64, I64, F64]:
        """(key, time, value) of the samples in [mint, maxt], grouped by key.

        The key is `where[ref]` (samples of refs mapped to -1 are skipped), or
        the ref itself when `where` is None. Within a key, samples are in
        arrival order, which is time order.
        """
        keys: list[I64] = []
        t_parts: list[I64] = []
        v_parts: list[F64] = []
        for seg in self._overlapping(mint, maxt):
            key = where[seg.refs] if where is not None else seg.refs.astype(np.int64)
            keep = key >= 0 if where is not None else None
            if seg.ts is not None and (seg.mint < mint or seg.maxt > maxt):
                in_range = (seg.ts >= mint) & (seg.ts <= maxt)
                keep = in_range if keep is None else keep & in_range
            if keep is None:
                keys.append(key)
                t_parts.append(seg.times())
                v_parts.append(seg.vs)
            elif keep.any():
                keys.append(key[keep])
                t_parts.append(seg.times()[keep])
                v_parts.append(seg.vs[keep])
        if not keys:
            return (
                np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=np.float64),
            )
        key = np.concatenate(keys)
        order = np.argsort(key, kind="stable")
        return key[order], np.concatenate(t_parts)[order], np.concatenate(v_parts)[order]

    def gather(self, refs: I64, mint: int, maxt: int) -> tuple[I64, I64, I64, F64]:
        """Samples in [mint, maxt] of `refs` (distinct), concatenated.

        Returns (positions into `refs` of series with samples, their sample
        counts, timestamps, values).
        """
        where = np.full(len(self.last_t), -1, dtype=np.int64)
        known = refs[refs < len(where)]
        where[known] = np.flatnonzero(refs < len(where))
        pos, ts, vs = self._collect(where, mint, maxt)
        per = np.bincount(pos, minlength=len(refs))
        hit = np.flatnonzero(per).astype(np.int64)
        return hit, per[hit].astype(np.int64), ts, vs

    def block(self, start: int, end: int) -> tuple[I64, I64, I64, F64]:
        """Every series' samples in [start, end], concatenated.

        Returns (refs, counts, timestamps, values), series in ref order.
        """
        refs, ts, vs = self._collect(None, start, end)
        if not len(refs):
            return refs, refs.copy(), ts, vs
        per = np.bincount(refs)
        hit = np.flatnonzero(per).astype(np.int64)
        return hit, per[hit].astype(np.int64), ts, vs

    def earliest_from(self, t: int) -> int | None:
        """The oldest sample time at or after `t` over all series, if any."""
        best: int | None = None
        for seg in self._overlapping(t, int(np.iinfo(np.int64).max)):
            if seg.ts is None:
                first = seg.mint
            else:
                later = seg.ts[seg.ts >= t]
                first = int(later.min())
            if best is None or first < best:
                best = first
        return best

    def has(self, ref: int) -> bool:
        return ref < len(self._count) and bool(self._count[ref])

    def first_t(self, ref: int) -> int | None:
        return int(self._first_t[ref]) if self.has(ref) else None

    def firsts(self, refs: I64) -> list[int | None]:
        """`first_t` of many refs at once."""
        self._grow(int(refs.max()) if len(refs) else 0)
        has = self._count[refs] > 0
        return [
            int(t) if h else None
            for t, h in zip(self._first_t[refs].tolist(), has.tolist(), strict=True)
        ]

    def bounds(self, ref: int) -> tuple[int, int] | None:
        return (int(self._first_t[ref]), int(self.last_t[ref])) if self.has(ref) else None

    def range(self, ref: int, mint: int, maxt: int) -> tuple[I64, F64]:
        """Copies of the samples with mint <= t <= maxt."""
        _, _, ts, vs = self.gather(np.array([ref], dtype=np.int64), mint, maxt)
        return ts, vs

    def ranges(self, refs: I64, mint: int, maxt: int) -> list[tuple[I64, F64]]:
        """`range` of many refs (distinct) at once, in the order of `refs`."""
        pos, counts, ts, vs = self.gather(refs, mint, maxt)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        out: list[tuple[I64, F64]] = [empty] * len(refs)
        off = 0
        for p, n in zip(pos.tolist(), counts.tolist(), strict=True):
            out[p] = (ts[off : off + n], vs[off : off + n])
            off += n
        return out

    def instant(self, refs: I64, t_ms: int, lookback_ms: int) -> tuple[I64, F64, I64]:
        """For each ref, the newest sample at or before t within the lookback.

        Returns the positions (into `refs`) that have a non-stale value, those
        values and their timestamps. Evaluating at or after a series' newest sample (the
        normal case for rules) is a pure gather; only series with samples
        after `t_ms` need a look into the segments.
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
            # Older still: the newest sample within the lookback, from the segments.
            older = idx[lt[idx] > t_ms]
            if len(older):
                pos, counts, ts, vs = self.gather(refs[older], t_ms - lookback_ms + 1, t_ms)
                lt[older] = NO_TIME
                if len(pos):
                    newest = np.cumsum(counts) - 1
                    lt[older[pos]] = ts[newest]
                    lv[older[pos]] = vs[newest]
        ok = (lt > t_ms - lookback_ms) & (lt != NO_TIME) & (lv.view(np.uint64) != STALE_NAN_BITS)
        pos = np.flatnonzero(ok).astype(np.int64)
        return pos, lv[pos], lt[pos]

    # -- dropping -----------------------------------------------------------------

    def truncate(self, before_t: int) -> list[int]:
        """Drop samples older than `before_t`; return refs left with no samples."""
        self._seal()
        kept: list[_Segment] = []
        dropped: list[I32] = []
        for seg in self._segments:
            if seg.mint >= before_t:
                kept.append(seg)
                continue
            if seg.maxt < before_t:
                dropped.append(seg.refs)
                continue
            assert seg.ts is not None  # a one-time segment is either side
            keep = seg.ts >= before_t
            dropped.append(seg.refs[~keep])
            rest = seg.where(keep)
            if rest is not None:
                kept.append(rest)
        if not dropped:
            return []
        self._segments = kept
        gone = np.bincount(np.concatenate(dropped), minlength=len(self._count))
        self._count -= gone.astype(np.int32)
        self.samples -= int(gone.sum())
        touched = gone > 0
        self._refresh_first(np.flatnonzero(touched & (self._count > 0)))
        return np.flatnonzero(touched & (self._count == 0)).tolist()

    def _refresh_first(self, refs: I64) -> None:
        """Recompute the first sample time of `refs` after older samples went."""
        pending = np.zeros(len(self._count), dtype=bool)
        pending[refs] = True
        left = len(refs)
        for seg in self._segments:
            if not left:
                break
            hit = pending[seg.refs]
            if not hit.any():
                continue
            r = seg.refs[hit]
            first_refs, first_at = np.unique(r, return_index=True)
            self._first_t[first_refs] = seg.times()[hit][first_at]
            pending[first_refs] = False
            left -= len(first_refs)

    def forget(self, ref: int) -> None:
        if ref >= len(self._count):
            return
        if self._count[ref]:
            self._seal()
            segments = []
            for seg in self._segments:
                rest = seg.where(seg.refs != ref)
                if rest is not None:
                    segments.append(rest)
            self._segments = segments
            self.samples -= int(self._count[ref])
        self._count[ref] = 0
        self.last_t[ref] = NO_TIME
        self.prev_t[ref] = NO_TIME

    def refs_with_samples(self) -> list[int]:
        return np.flatnonzero(self._count > 0).tolist()

    def memory_bytes(self) -> int:
        """Bytes held by samples and per-series columns (not labels or index)."""
        total = sum(
            c.nbytes
            for c in (
                self.last_t,
                self.last_v,
                self.prev_t,
                self.prev_v,
                self._first_t,
                self._count,
            )
        )
        shared: set[int] = set()
        for seg in self._segments:
            total += seg.nbytes()
            if id(seg.refs) not in shared:
                shared.add(id(seg.refs))
                total += seg.refs.nbytes
        open_ = (self._open_refs, self._open_ts, self._open_vs)
        return total + sum(a.buffer_info()[1] * a.itemsize for a in open_)


def _same(a: float, b: float) -> bool:
    return np.float64(a).view(np.uint64) == np.float64(b).view(np.uint64)


def _distinct(refs: I64) -> bool:
    if len(refs) < 2:
        return True
    d = np.diff(refs)
    if bool((d > 0).all()):
        return True
    return len(np.unique(refs)) == len(refs)
