from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tocsin.clock import FakeClock
from tocsin.tsdb.config import StorageConfig
from tocsin.tsdb.db import TSDB, open_sqlite
from tocsin.tsdb.types import STALE_NAN, LabelMatcher, MatchOp, SelectHints, is_stale

CFG = StorageConfig(retention=12 * 3600, flush_interval=60, head_window=3 * 3600)
ALL = [LabelMatcher("__name__", MatchOp.RE, ".+")]
T0 = 1_700_000_000  # seconds; FakeClock start


def _labels(i: int) -> dict[str, str]:
    return {"__name__": "zone_up", "zone": f"z{i}", "venue": f"v{i % 3}"}


def _fill(db: TSDB, clock: FakeClock, seconds: int, n_series: int = 6, every: int = 60) -> None:
    """Append a sample per series every `every` s and run maintenance each 10 minutes."""
    labels = [_labels(i) for i in range(n_series)]
    start = int(clock.now())
    for t in range(start, start + seconds, every):
        clock.set(t)
        vals = np.array([np.sin(t / 600 + i) for i in range(n_series)])
        db.append_batch(labels, t * 1000, vals)
        if (t - start + every) % 600 == 0:
            db.maintain()


def _dump(db: TSDB, mint: int = 0, maxt: int = 2**62) -> dict[str, tuple[list[int], list[float]]]:
    return {
        s.labels["zone"]: (s.timestamps.tolist(), s.values.tolist())
        for s in db.select(ALL, mint, maxt)
    }


def test_clean_restart_keeps_everything(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    path = str(tmp_path / "tsdb.sqlite")
    db = open_sqlite(path, CFG, clock=clock)
    _fill(db, clock, 5 * 3600)
    db.append({"__name__": "late", "zone": "zl"}, int(clock.now() * 1000), 42.0)
    st = db.stats()
    assert st.compacted_until_ms is not None  # at least one block went to chunks
    before = _dump(db)
    assert len(before["z0"][0]) == 5 * 60
    db.close()

    again = open_sqlite(path, CFG, clock=clock)
    assert _dump(again) == before
    assert again.label_values("zone") == sorted(before)
    # The reloaded head serves instant queries without touching disk.
    labels, _values, _stamps = again.select_instant(ALL, int(clock.now() * 1000), 300_000)
    assert {lb["zone"] for lb in labels} == set(before)


def test_crash_loses_at_most_the_unflushed_samples(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    path = str(tmp_path / "tsdb.sqlite")
    db = open_sqlite(path, CFG, clock=clock)
    _fill(db, clock, 3600)
    db.flush()
    flushed = _dump(db)
    clock.set(clock.now() + 60)
    _fill(db, clock, 60 * 3)  # three more samples per series, never flushed
    assert db.stats().pending_samples == 6 * 3
    # No close(): simulate a crash by opening the file again.
    again = open_sqlite(path, CFG, clock=clock)
    assert _dump(again) == flushed


def test_reads_span_chunks_and_head(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    db = open_sqlite(str(tmp_path / "t.sqlite"), CFG, clock=clock)
    _fill(db, clock, 8 * 3600)
    st = db.stats()
    # The head only holds the recent window, yet the whole history reads back.
    assert st.head_samples <= 6 * (3 * 3600 // 60 + 2 * 3600 // 60 + 20)
    got = _dump(db)
    assert [len(v[0]) for v in got.values()] == [8 * 60] * 6
    ts = got["z1"][0]
    assert ts == list(range(T0 * 1000, (T0 + 8 * 3600) * 1000, 60_000))
    # A window that lies entirely on disk.
    old = _dump(db, (T0 + 600) * 1000, (T0 + 1200) * 1000)
    assert old["z2"][0] == list(range((T0 + 600) * 1000, (T0 + 1201) * 1000, 60_000))
    series = db.series([ALL], (T0 + 600) * 1000, (T0 + 1200) * 1000)
    assert len(series) == 6


def test_appends_into_compacted_blocks_are_refused(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    db = open_sqlite(str(tmp_path / "t.sqlite"), CFG, clock=clock)
    _fill(db, clock, 5 * 3600)
    db.append({"__name__": "new"}, T0 * 1000, 1.0)
    assert db.stats().refused_out_of_bounds == 1


def test_retention_deletes_old_chunks_and_series(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    db = open_sqlite(str(tmp_path / "t.sqlite"), CFG, clock=clock)
    _fill(db, clock, 4 * 3600, n_series=6)
    # Only z0 keeps reporting; the others vanish for longer than the retention.
    clock.set(clock.now() + 60)
    _fill(db, clock, 14 * 3600, n_series=1)
    db.apply_retention()
    got = _dump(db)
    assert set(got) == {"z0"}
    assert got["z0"][0][0] >= (clock.now() - CFG.retention - 2 * 3600) * 1000
    assert db.label_values("zone") == ["z0"]


def _latest_at(ts: list[int], vs: list[float], t: int) -> float | None:
    best = None
    for ti, vi in zip(ts, vs, strict=True):
        if t - 300_000 < ti <= t:
            best = vi
    return None if best is None or is_stale(np.array([best]))[0] else best


def test_rollups_answer_aligned_instant_and_max_selects_exactly(tmp_path: Path) -> None:
    clock = FakeClock(T0 - T0 % 3600)
    db = open_sqlite(str(tmp_path / "t.sqlite"), CFG, clock=clock)
    _fill(db, clock, 7 * 3600, every=15)
    db.append_batch([_labels(0)], int(clock.now() * 1000) + 1, np.array([STALE_NAN]))
    end = int(clock.now() * 1000)
    start = end - end % 3_600_000 - 6 * 3_600_000
    raw = _dump(db, start - 300_000, end)
    step = 3_600_000
    hints = SelectHints(start_ms=start, end_ms=end, step_ms=step)
    rolled = db.select(ALL, start - 300_000, end, hints)
    # Fewer samples than raw: the rollup was used.
    assert sum(len(s.timestamps) for s in rolled) < sum(len(v[0]) for v in raw.values()) / 10
    for s in rolled:
        zone = s.labels["zone"]
        for t in range(start, end + 1, step):
            got = _latest_at(s.timestamps.tolist(), s.values.tolist(), t)
            assert got == _latest_at(*raw[zone], t), (zone, t)

    hints = SelectHints(
        start_ms=start, end_ms=end, step_ms=step, range_ms=step, func="max_over_time"
    )
    rolled_max = {s.labels["zone"]: s for s in db.select(ALL, start - step, end, hints)}
    for zone, (ts, vs) in raw.items():
        tsa, vsa = np.array(ts), np.array(vs)
        r = rolled_max[zone]
        for t in range(start + step, end + 1, step):
            win = (tsa > t - step) & (tsa <= t)
            rwin = (r.timestamps > t - step) & (r.timestamps <= t)
            assert np.nanmax(vsa[win]) == pytest.approx(np.nanmax(r.values[rwin]))


def test_memory_only_store_drops_old_samples() -> None:
    clock = FakeClock(T0)
    db = TSDB(None, CFG, clock=clock).open()
    _fill(db, clock, 5 * 3600, n_series=2)
    got = _dump(db)
    assert got["z0"][0][0] >= (clock.now() - 3 * 3600 - 600) * 1000


async def test_run_loop_flushes_on_the_clock(tmp_path: Path) -> None:
    import asyncio

    clock = FakeClock(T0)
    db = open_sqlite(str(tmp_path / "t.sqlite"), CFG, clock=clock)
    task = asyncio.create_task(db.run())
    await asyncio.sleep(0)  # let the loop start its first sleep at T0
    try:
        db.append({"__name__": "x"}, T0 * 1000, 1.0)
        await clock.advance(59)
        assert db.stats().pending_samples == 1
        await clock.advance(1)
        async with asyncio.timeout(5):
            # pending empties when the flush takes the samples, before it has
            # written them; last_flush_seconds is set once the write committed.
            while db.stats().last_flush_seconds is None:  # noqa: ASYNC110 - a thread flushes
                await asyncio.sleep(0.005)
        again = open_sqlite(str(tmp_path / "t.sqlite"), CFG, clock=clock)
        assert [s.values.tolist() for s in again.select(ALL, 0, 2**62)] == [[1.0]]
    finally:
        task.cancel()


def test_downtime_skips_empty_blocks_and_keeps_data(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    path = str(tmp_path / "t.sqlite")
    db = open_sqlite(path, CFG, clock=clock)
    _fill(db, clock, 3 * 3600, n_series=2)
    db.close()
    clock.set(clock.now() + 10 * 86400)  # ten days off, within the retention
    cfg = StorageConfig(retention=30 * 86400, flush_interval=60, head_window=3 * 3600)
    again = open_sqlite(path, cfg, clock=clock)
    again.append(_labels(0), int(clock.now() * 1000), 1.0)
    # Without skipping, this would visit each of the ~120 empty blocks of the downtime.
    assert again.compact() <= 3
    assert again.stats().compacted_until_ms > (clock.now() - 3 * 3600) * 1000
    got = _dump(again)
    assert len(got["z0"][0]) == 3 * 60 + 1
    assert len(got["z1"][0]) == 3 * 60
