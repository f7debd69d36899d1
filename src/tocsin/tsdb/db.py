"""The time-series database: head + persisted chunks behind one Queryable.

Write path: producers append to the head; every `flush_interval` the samples
appended since the last flush are written as one compressed segment row (so
a crash loses at most one flush interval). Once a 2h block has closed, its
samples are written per series as compressed chunks plus rollups, and the
segments it covers are deleted. The head then drops samples older than
`head_window`; older reads decode chunks.

Thread safety: one re-entrant lock guards the head and index. Reads copy
samples out under the lock, so queries may run in worker threads while the
event loop keeps appending.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from tocsin.clock import Clock, SystemClock
from tocsin.promql.labels import LabelTable
from tocsin.storage import migrate
from tocsin.tsdb import db_migrations, rollup
from tocsin.tsdb.chunks import decode_many, encode_many
from tocsin.tsdb.config import BLOCK_SECONDS, StorageConfig
from tocsin.tsdb.head import NO_TIME, Head
from tocsin.tsdb.index import SeriesIndex
from tocsin.tsdb.labelrows import LabelRows, TableCache
from tocsin.tsdb.persist import ChunkStore
from tocsin.tsdb.types import STALE_NAN, LabelMatcher, Labels, SelectHints, SeriesData

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

BLOCK_MS = int(BLOCK_SECONDS * 1000)
_MAX_T = np.iinfo(np.int64).max
_RANGE_FUNC_ROLLUP = {"max_over_time": "max", "min_over_time": "min", "last_over_time": "last"}


@dataclass
class TsdbStats:
    series: int
    head_series: int
    head_samples: int
    head_bytes: int
    pending_samples: int
    refused_out_of_order: int
    refused_duplicate: int
    refused_out_of_bounds: int
    compacted_until_ms: int | None
    last_flush_seconds: float | None


class TSDB:
    """Queryable and Appender over an in-memory head and SQL chunks.

    Pass `engine=None` for a memory-only store (tests, `tocsin test rules`):
    nothing is persisted and samples older than `head_window` are dropped.
    """

    def __init__(
        self,
        engine: sa.Engine | None = None,
        config: StorageConfig | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or StorageConfig()
        self.clock = clock or SystemClock()
        self.index = SeriesIndex()
        self.head = Head()
        self._tables = TableCache()
        self._store = ChunkStore(engine) if engine is not None else None
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._persisted: set[int] = set()
        self._compacted_until: int | None = None
        self._head_floor = int(NO_TIME)
        """Every sample at or after this time is in the head."""
        self._last_retention: float | None = None
        self._last_flush_seconds: float | None = None
        self._opened = False

    # -- lifecycle --------------------------------------------------------------

    def open(self) -> TSDB:
        """Bring the tsdb tables up to date and reload series and the head from disk.

        Under `Store.migrate()` the tsdb component is already applied and this
        is a no-op check; a standalone TSDB (`open_sqlite`) applies it here.
        """
        if self._opened:
            return self
        self._opened = True
        if self._store is None:
            return self
        store = self._store
        migrate.run(store.engine, [db_migrations.component()], self.clock.now())
        cu = store.get_meta("compacted_until")
        self._compacted_until = int(cu) if cu is not None else None
        with self._lock:
            for sid, labels in store.load_series():
                self.index.add(sid, labels)
                self._persisted.add(sid)
            if self._compacted_until is not None:
                cutoff = self._now_ms() - self._window_ms()
                rows = list(store.read_chunks(None, cutoff, int(_MAX_T)))
                counts, ts, vs = decode_many([blob for _, _, blob in rows])
                sids = np.fromiter((sid for sid, _, _ in rows), dtype=np.int64, count=len(rows))
                self.head.load_many(np.repeat(sids, counts), ts, vs)
                self._head_floor = min(cutoff, self._compacted_until)
                self.head.min_t = self._compacted_until
            self._load_segments(store)
        return self

    def _load_segments(self, store: ChunkStore) -> None:
        parts = list(store.read_segments())
        if not parts:
            return
        refs = np.concatenate([p[0] for p in parts])
        ts = np.concatenate([p[1] for p in parts])
        vs = np.concatenate([p[2] for p in parts])
        if self._compacted_until is not None:
            keep = ts >= self._compacted_until
            refs, ts, vs = refs[keep], ts[keep], vs[keep]
        known = np.isin(refs, np.fromiter(self._persisted, dtype=np.int64))
        if not known.all():
            for ref in np.unique(refs[~known]).tolist():
                log.error("tsdb: segment references unknown series %d; samples skipped", ref)
            refs, ts, vs = refs[known], ts[known], vs[known]
        # Segments are read in write order, so each series' samples are in time order.
        self.head.load_many(refs, ts, vs)

    def close(self) -> None:
        """Flush everything acknowledged. Call on clean shutdown."""
        if self._store is not None:
            self.flush()

    async def run(self) -> None:
        """Flush, compact, truncate and apply retention every flush_interval."""
        while True:
            await self.clock.sleep(self.config.flush_interval)
            try:
                await asyncio.to_thread(self.maintain)
            except Exception:
                log.exception("tsdb maintenance failed; will retry next interval")

    def maintain(self) -> None:
        now_ms = self._now_ms()
        if self._store is not None:
            self.flush()
            self.compact(now_ms)
        self.truncate(now_ms)
        now = self.clock.now()
        if self._store is not None and (
            self._last_retention is None or now - self._last_retention >= 3600
        ):
            self.apply_retention(now_ms)
            self._last_retention = now

    @property
    def series_epoch(self) -> int:
        """Changes whenever series are removed, so cached refs must be dropped."""
        return self.index.removals

    # -- appending --------------------------------------------------------------

    def append(self, labels: Labels, t_ms: int, value: float) -> None:
        with self._lock:
            ref = self.index.get_or_create(labels)
            self.head.append(ref, int(t_ms), float(value), log=self._store is not None)

    def refs(self, labels_list: Sequence[Labels]) -> I64:
        """Refs for label sets (created if new); cache them to skip the lookup."""
        with self._lock:
            get = self.index.get_or_create
            return np.fromiter(
                (get(lb) for lb in labels_list), dtype=np.int64, count=len(labels_list)
            )

    def append_refs(self, refs: I64, t_ms: int, values: npt.ArrayLike) -> int:
        vals = np.asarray(values, dtype=np.float64)
        if vals.shape != refs.shape:
            raise ValueError(f"{len(refs)} refs but {vals.size} values")
        with self._lock:
            if len(refs) and int(refs.max()) >= self.index.capacity:
                raise KeyError("unknown series ref")
            # Memory-only: nothing ever flushes, so a pending log would only grow.
            return self.head.append_refs(refs, int(t_ms), vals, log=self._store is not None)

    def append_batch(self, labels_list: Sequence[Labels], t_ms: int, values: npt.ArrayLike) -> int:
        """Append one sample per label set, all at `t_ms`; returns how many were kept."""
        return self.append_refs(self.refs(labels_list), t_ms, values)

    def mark_stale(self, labels_list: Sequence[Labels], t_ms: int) -> int:
        """Write staleness markers: these series ended at `t_ms`."""
        return self.append_batch(labels_list, t_ms, np.full(len(labels_list), STALE_NAN))

    # -- reading ----------------------------------------------------------------

    def select(
        self,
        matchers: Sequence[LabelMatcher],
        mint_ms: int,
        maxt_ms: int,
        hints: SelectHints | None = None,
    ) -> list[SeriesData]:
        level = self._rollup_for(hints, mint_ms)
        if level is not None:
            return self.select_rollup(matchers, mint_ms, maxt_ms, level[0], level[1])
        with self._lock:
            refs = self.index.select(matchers)
            labels = self.index.labels_of(refs.tolist())
            hot = self.head.ranges(refs, mint_ms, maxt_ms)
            firsts = self.head.firsts(refs)
            floor = self._head_floor
        cold: dict[int, list[tuple[I64, F64]]] = {}
        if self._store is not None and mint_ms < floor and len(refs):
            rows = list(self._store.read_chunks(refs.tolist(), mint_ms, min(maxt_ms, floor - 1)))
            counts, all_ts, all_vs = decode_many([blob for _, _, blob in rows])
            offsets = np.concatenate([[0], np.cumsum(counts)]).tolist()
            for i, (sid, _bs, _blob) in enumerate(rows):
                ts = all_ts[offsets[i] : offsets[i + 1]]
                vs = all_vs[offsets[i] : offsets[i + 1]]
                keep = (ts >= mint_ms) & (ts <= maxt_ms) & (ts < floor)
                cold.setdefault(sid, []).append((ts[keep], vs[keep]))
        out: list[SeriesData] = []
        for ref, lb, (ts, vs), first in zip(refs.tolist(), labels, hot, firsts, strict=True):
            parts = cold.get(ref)
            if parts:
                # The head holds a suffix of the series; disk supplies what precedes it.
                cts = np.concatenate([p[0] for p in parts])
                cvs = np.concatenate([p[1] for p in parts])
                if first is not None:
                    before = cts < first
                    cts, cvs = cts[before], cvs[before]
                ts = np.concatenate([cts, ts])
                vs = np.concatenate([cvs, vs])
            if len(ts):
                out.append(SeriesData(lb, ts, vs))
        return out

    def select_instant(
        self, matchers: Sequence[LabelMatcher], t_ms: int, lookback_ms: int
    ) -> tuple[LabelRows, F64, I64]:
        """Newest non-stale sample per series in (t - lookback, t].

        Returns (label sets, values, sample timestamps). The label sets are a
        `LabelRows`: the PromQL engine's columnar `LabelTable`, cached per
        matcher set, which also iterates as label dicts.
        """
        if self._store is not None and t_ms - lookback_ms < self._head_floor:
            # Part of the window is only on disk: take the general path.
            rows: list[Mapping[str, str]] = []
            values: list[float] = []
            stamps: list[int] = []
            for s in self.select(matchers, t_ms - lookback_ms + 1, t_ms):
                v = s.values[-1:]
                if len(v) and not bool((v.view(np.uint64) == _STALE_BITS).any()):
                    rows.append(s.labels)
                    values.append(float(v[0]))
                    stamps.append(int(s.timestamps[-1]))
            return (
                LabelRows.of(LabelTable.from_dicts(rows)),
                np.asarray(values, dtype=np.float64),
                np.asarray(stamps, dtype=np.int64),
            )
        with self._lock:
            refs = self.index.select(matchers)
            table = self._tables.get(tuple(matchers), refs, self.index.table)
            pos, vals, ts = self.head.instant(refs, int(t_ms), int(lookback_ms))
        if len(pos) == len(refs):
            return LabelRows(table.n, dict(table.cols)), vals, ts
        return LabelRows.of(table.take(pos)), vals, ts

    def select_batch(
        self, matchers: Sequence[LabelMatcher], mint_ms: int, maxt_ms: int
    ) -> tuple[LabelRows, I64, F64, npt.NDArray[np.intp]]:
        """`select` flattened for the engine: (labels, timestamps, values, offsets).

        Samples of series i are at offsets[i]:offsets[i+1]; only series with
        samples in [mint, maxt] are included.
        """
        if self._store is not None and mint_ms < self._head_floor:
            data = self.select(matchers, mint_ms, maxt_ms)
            counts = np.array([len(s.timestamps) for s in data], dtype=np.intp)
            off = np.zeros(len(data) + 1, dtype=np.intp)
            np.cumsum(counts, out=off[1:])
            return (
                LabelRows.of(LabelTable.from_dicts([s.labels for s in data])),
                np.concatenate([s.timestamps for s in data]) if data else np.zeros(0, np.int64),
                np.concatenate([s.values for s in data]) if data else np.zeros(0),
                off,
            )
        with self._lock:
            refs = self.index.select(matchers)
            table = self._tables.get(tuple(matchers), refs, self.index.table)
            pos, counts, ts, vs = self.head.gather(refs, int(mint_ms), int(maxt_ms))
        off = np.zeros(len(pos) + 1, dtype=np.intp)
        np.cumsum(counts, out=off[1:])
        labels = (
            LabelRows(table.n, dict(table.cols))
            if len(pos) == len(refs)
            else LabelRows.of(table.take(pos))
        )
        return labels, ts, vs, off

    def label_names(self, matchers: Sequence[LabelMatcher] = ()) -> list[str]:
        with self._lock:
            if not matchers:
                return self.index.label_names()
            return self.index.label_names(self.index.select(matchers))

    def label_values(self, name: str, matchers: Sequence[LabelMatcher] = ()) -> list[str]:
        with self._lock:
            if not matchers:
                return self.index.label_values(name)
            return self.index.label_values(name, self.index.select(matchers))

    def series(
        self,
        matcher_sets: Sequence[Sequence[LabelMatcher]],
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[dict[str, str]]:
        """Label sets of series matching any matcher set, with data in [start, end]."""
        with self._lock:
            refs_set: set[int] = set()
            for ms in matcher_sets:
                refs_set.update(self.index.select(ms).tolist())
            refs = sorted(refs_set)
            if start_ms is None and end_ms is None:
                return self.index.labels_of(refs)
            lo = start_ms if start_ms is not None else int(NO_TIME)
            hi = end_ms if end_ms is not None else int(_MAX_T)
            hits = []
            for r in refs:
                b = self.head.bounds(r)
                if b is not None and b[0] <= hi and b[1] >= lo:
                    hits.append(r)
            floor = self._head_floor
        if self._store is not None and lo < floor:
            on_disk = self._store.series_in_range(lo, hi)
            hits = sorted(set(hits) | (on_disk & refs_set))
        with self._lock:
            return self.index.labels_of(hits)

    def select_rollup(
        self, matchers: Sequence[LabelMatcher], mint_ms: int, maxt_ms: int, res_s: float, agg: str
    ) -> list[SeriesData]:
        """Series as one sample per `res_s` bucket of aggregate `agg`.

        Closed blocks come from stored rollups, the head is rolled up on the fly.
        """
        res_ms = int(res_s * 1000)
        with self._lock:
            refs = self.index.select(matchers)
            labels = self.index.labels_of(refs.tolist())
            cu = self._compacted_until
            hot_from = cu if cu is not None else int(NO_TIME)
            hot = self.head.ranges(refs, max(mint_ms - res_ms, hot_from), maxt_ms)
        stored: dict[int, list[rollup.Rollup]] = {}
        if self._store is not None and cu is not None and mint_ms < cu and len(refs):
            for sid, _bs, blob in self._store.read_rollups(
                refs.tolist(), res_ms, mint_ms, min(maxt_ms, cu)
            ):
                stored.setdefault(sid, []).append(rollup.decode(blob))
        out = []
        for ref, lb, (ts, vs) in zip(refs.tolist(), labels, hot, strict=True):
            r = rollup.concat([*stored.get(ref, []), rollup.compute(ts, vs, res_ms)])
            t_col, v_col = r.column(agg)
            keep = (t_col >= mint_ms) & (t_col <= maxt_ms)
            if keep.any():
                out.append(SeriesData(lb, t_col[keep], v_col[keep]))
        return out

    def _rollup_for(self, hints: SelectHints | None, mint_ms: int) -> tuple[float, str] | None:
        """The coarsest rollup level that answers `hints` exactly, if any."""
        if hints is None or self._store is None or hints.step_ms <= 0:
            return None
        if mint_ms >= self._head_floor:
            return None  # all raw data is in memory; rollups buy nothing
        if hints.range_ms == 0 and hints.func is None:
            agg = "last"
        elif hints.func in _RANGE_FUNC_ROLLUP:
            agg = _RANGE_FUNC_ROLLUP[hints.func]
        else:
            return None
        for level in sorted(self.config.downsampling, key=lambda lv: -lv.resolution):
            res_ms = int(level.resolution * 1000)
            if (
                hints.step_ms % res_ms == 0
                and hints.start_ms % res_ms == 0
                and hints.range_ms % res_ms == 0
            ):
                return level.resolution, agg
        return None

    # -- persistence ------------------------------------------------------------

    def flush(self) -> int:
        """Write samples appended since the last flush; returns how many."""
        if self._store is None:
            return 0
        with self._flush_lock:
            started = time.perf_counter()
            with self._lock:
                refs, ts, vs = self.head.pending.take()
                fresh = sorted(set(np.unique(refs).tolist()) - self._persisted)
                new_series = [(r, self.index.labels(r)) for r in fresh]
            try:
                self._store.write_segment(new_series, refs, ts, vs)
            except Exception:
                with self._lock:
                    self.head.pending.restore(refs, ts, vs)
                raise
            self._persisted.update(fresh)
            self._last_flush_seconds = time.perf_counter() - started
            return len(refs)

    def compact(self, now_ms: int | None = None) -> int:
        """Turn every closed 2h block into chunks and rollups; returns blocks written."""
        if self._store is None:
            return 0
        now_ms = self._now_ms() if now_ms is None else now_ms
        grace = max(int(self.config.flush_interval * 1000), 60_000)
        with self._lock:
            cu = self._compacted_until
            if cu is None:
                with_samples = np.asarray(self.head.refs_with_samples(), dtype=np.int64)
                firsts = self.head.firsts(with_samples)
                if not firsts:
                    return 0
                cu = min(t for t in firsts if t is not None) // BLOCK_MS * BLOCK_MS
        written = 0
        last_closed = (now_ms - grace) // BLOCK_MS * BLOCK_MS  # cu may advance up to here
        while cu + BLOCK_MS + grace <= now_ms:
            self.flush()
            nxt = cu + BLOCK_MS
            if self._write_block(cu) == 0:
                # An empty block (downtime): skip straight to the next block with data
                # instead of visiting every empty block one by one.
                with self._lock:
                    first = self.head.earliest_from(nxt)
                jump = last_closed if first is None else first // BLOCK_MS * BLOCK_MS
                if jump > nxt:
                    nxt = min(jump, last_closed)
                    self._store.write_block(cu, [], [], nxt)
            cu = nxt
            with self._lock:
                self._compacted_until = cu
                self.head.min_t = cu
            written += 1
        return written

    def _write_block(self, start: int) -> int:
        """Write one block's chunks and rollups; returns how many series it held."""
        assert self._store is not None
        end = start + BLOCK_MS - 1
        with self._lock:
            refs, counts, ts, vs = self.head.block(start, end)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        blobs = encode_many(counts, ts, vs)
        ref_list = refs.tolist()
        first = ts[offsets[:-1]].tolist() if len(ts) else []
        last = ts[offsets[1:] - 1].tolist() if len(ts) else []
        chunks = [
            {
                "series_id": ref,
                "block_start": start,
                "mint": lo,
                "maxt": hi,
                "count": n,
                "data": blob,
            }
            for ref, lo, hi, n, blob in zip(
                ref_list, first, last, counts.tolist(), blobs, strict=True
            )
        ]
        rollups: list[dict[str, object]] = []
        for level in self.config.downsampling:
            res_ms = int(level.resolution * 1000)
            per_series, r = rollup.compute_many(counts, ts, vs, res_ms)
            r_blobs = rollup.encode_many(per_series, r)
            r_off = np.concatenate([[0], np.cumsum(per_series)]).astype(np.int64)
            ends = r.end.tolist()
            for i, (ref, blob) in enumerate(zip(ref_list, r_blobs, strict=True)):
                rollups.append(
                    {
                        "series_id": ref,
                        "resolution_ms": res_ms,
                        "block_start": start,
                        "mint": ends[r_off[i]] - res_ms,
                        "maxt": ends[r_off[i + 1] - 1],
                        "data": blob,
                    }
                )
        self._store.write_block(start, chunks, rollups, start + BLOCK_MS)
        return len(chunks)

    def truncate(self, now_ms: int | None = None) -> None:
        """Drop head samples older than head_window (and already on disk)."""
        now_ms = self._now_ms() if now_ms is None else now_ms
        before = now_ms - self._window_ms()
        if self._store is not None:
            cu = self._compacted_until
            if cu is None:
                return
            before = min(before, cu)
        with self._lock:
            emptied = self.head.truncate(before)
            for r in emptied:
                self.head.forget(r)
            if self._store is None:
                self.index.remove(emptied)
            self._head_floor = max(self._head_floor, before)

    def apply_retention(self, now_ms: int | None = None) -> dict[str, int]:
        """Delete chunks and rollups past retention, then series left without data."""
        if self._store is None:
            return {}
        now_ms = self._now_ms() if now_ms is None else now_ms
        cfg = self.config
        deleted = {"chunks": self._store.delete_chunks_before(now_ms - int(cfg.retention * 1000))}
        rolled = 0
        for level in cfg.downsampling:
            keep = level.retention if level.retention is not None else cfg.retention
            rolled += self._store.delete_rollups_before(
                int(level.resolution * 1000), now_ms - int(keep * 1000)
            )
        deleted["rollups"] = rolled
        with self._lock:
            live = set(self.head.refs_with_samples())
        dead = [s for s in self._store.unreferenced_series() if s not in live]
        self._store.delete_series(dead)
        with self._lock:
            self.index.remove(dead)
            self._persisted.difference_update(dead)
        deleted["series"] = len(dead)
        return deleted

    # -- introspection -----------------------------------------------------------

    def stats(self) -> TsdbStats:
        with self._lock:
            st = self.head.stats
            return TsdbStats(
                series=len(self.index),
                head_series=len(self.head.refs_with_samples()),
                head_samples=self.head.samples,
                head_bytes=self.head.memory_bytes(),
                pending_samples=len(self.head.pending),
                refused_out_of_order=st.out_of_order,
                refused_duplicate=st.duplicate,
                refused_out_of_bounds=st.out_of_bounds,
                compacted_until_ms=self._compacted_until,
                last_flush_seconds=self._last_flush_seconds,
            )

    def _now_ms(self) -> int:
        return math.floor(self.clock.now() * 1000)

    def _window_ms(self) -> int:
        return int(self.config.head_window * 1000)


_STALE_BITS = np.float64(STALE_NAN).view(np.uint64)


def open_sqlite(
    path: str, config: StorageConfig | None = None, *, clock: Clock | None = None
) -> TSDB:
    """A TSDB in the SQLite file at `path` (WAL mode), opened and reloaded."""
    engine = sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _pragmas(conn: object, _record: object) -> None:
        cur = conn.cursor()  # type: ignore[attr-defined]
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return TSDB(engine, config, clock=clock).open()


__all__ = ("TSDB", "TsdbStats", "open_sqlite")
