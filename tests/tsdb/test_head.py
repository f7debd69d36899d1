"""The head's time-batch layout: segments, the open segment, per-series columns."""

from __future__ import annotations

import numpy as np
import pytest

from tocsin.tsdb import head as head_mod
from tocsin.tsdb.head import Head
from tocsin.tsdb.types import STALE_NAN


@pytest.fixture(autouse=True)
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    # Batches of 4+ samples get their own segment, the open one seals at 8.
    monkeypatch.setattr(head_mod, "_OWN_SEGMENT", 4)
    monkeypatch.setattr(head_mod, "_OPEN_MAX", 8)


def refs(*r: int) -> np.ndarray:
    return np.array(r, dtype=np.int64)


def series(h: Head, ref: int, mint: int = 0, maxt: int = 10**12) -> list[tuple[int, float]]:
    ts, vs = h.range(ref, mint, maxt)
    return list(zip(ts.tolist(), vs.tolist(), strict=True))


def test_steady_sweeps_share_one_ref_column() -> None:
    h = Head()
    r = refs(0, 1, 2, 3, 4)
    h.append_refs(r, 1000, np.ones(5), log=False)
    one = h.memory_bytes()
    for k in range(2, 5):
        h.append_refs(r, 1000 * k, np.full(5, float(k)), log=False)
    # Each later sweep adds its values only (8 B a sample), not refs or times.
    assert h.memory_bytes() - one == 3 * 5 * 8
    assert series(h, 3) == [(1000, 1.0), (2000, 2.0), (3000, 3.0), (4000, 4.0)]


def test_gather_mixes_sealed_and_open_segments_in_time_order() -> None:
    h = Head()
    h.append_refs(refs(5, 1, 3, 7), 1000, np.array([5.0, 1.0, 3.0, 7.0]), log=False)
    h.append(3, 1500, 3.5, log=False)  # open segment
    h.append_refs(refs(1, 3), 2000, np.array([1.2, 3.2]), log=False)  # open too (small)
    h.append_refs(refs(7, 5, 3, 1), 3000, np.array([7.3, 5.3, 3.3, 1.3]), log=False)
    pos, counts, ts, vs = h.gather(refs(3, 99999, 1), 1500, 3000)
    assert pos.tolist() == [0, 2]  # 99999 is unknown: skipped
    assert counts.tolist() == [3, 2]
    assert ts.tolist() == [1500, 2000, 3000, 2000, 3000]
    assert vs.tolist() == [3.5, 3.2, 3.3, 1.2, 1.3]
    block_refs, block_counts, block_ts, _ = h.block(0, 2000)
    assert block_refs.tolist() == [1, 3, 5, 7]
    assert block_counts.tolist() == [2, 3, 1, 1]
    assert block_ts.tolist() == [1000, 2000, 1000, 1500, 2000, 1000, 1000]


def test_open_segment_seals_and_keeps_order() -> None:
    h = Head()
    for t in range(1, 21):
        h.append(t % 2, 1000 * t, float(t), log=False)
    assert len(h._segments) == 2  # 20 samples: two sealed segments of 8, 4 open
    assert [t for t, _ in series(h, 1)] == [1000 * t for t in range(1, 21, 2)]
    assert h.earliest_from(15_500) == 16_000


def test_truncate_cuts_through_a_segment_and_moves_first_times() -> None:
    h = Head()
    for t in (1000, 2000, 3000):
        h.append(0, t, 0.0, log=False)
    h.append(1, 1500, 1.0, log=False)
    h.append(2, 2500, 2.0, log=False)
    assert h.truncate(2200) == [1]  # 1 lost its only sample
    assert h.samples == 2
    assert h.bounds(0) == (3000, 3000)
    assert h.first_t(1) is None
    assert h.bounds(2) == (2500, 2500)
    assert h.truncate(2200) == []


def test_forget_drops_the_samples_and_lets_the_series_start_again() -> None:
    h = Head()
    h.append_refs(refs(0, 1, 2, 3), 1000, np.ones(4), log=False)
    h.append_refs(refs(0, 1, 2, 3), 2000, np.ones(4), log=False)
    h.forget(2)
    assert series(h, 2) == []
    assert h.samples == 6
    assert h.append(2, 500, 9.0, log=False)  # no longer "out of order"
    assert series(h, 2) == [(500, 9.0)]
    assert h.refs_with_samples() == [0, 1, 2, 3]


def test_instant_before_the_previous_sample_reads_the_segments() -> None:
    h = Head()
    for t, v in ((1000, 1.0), (2000, STALE_NAN), (3000, 3.0), (4000, 4.0), (5000, 5.0)):
        h.append_refs(refs(0, 1, 2, 3), t, np.full(4, v), log=False)
    h.append(1, 6000, 6.0, log=False)
    # At 3500 the newest sample of every series is at 3000 (older than prev for 0, 2, 3).
    pos, vals, ts = h.instant(refs(0, 1, 2), 3500, 1000)
    assert pos.tolist() == [0, 1, 2]
    assert vals.tolist() == [3.0] * 3
    assert ts.tolist() == [3000] * 3
    # At 2500 the newest is the staleness marker: nothing; at 1500 with a
    # short lookback the sample at 1000 is too old.
    assert h.instant(refs(0, 1), 2500, 1000)[0].tolist() == []
    assert h.instant(refs(0, 1), 1500, 400)[0].tolist() == []
    assert h.instant(refs(0, 1), 1500, 600)[1].tolist() == [1.0, 1.0]


def test_a_ref_twice_in_one_batch_is_checked_against_itself() -> None:
    h = Head()
    assert h.append_refs(refs(0, 1, 0, 2), 1000, np.array([1.0, 2.0, 1.0, 3.0]), log=False) == 3
    assert h.stats.duplicate == 1
    assert h.append_refs(refs(0, 1), 1000, np.array([5.0, 2.0]), log=False) == 0
    assert (h.stats.out_of_order, h.stats.duplicate) == (1, 2)
    assert series(h, 0) == [(1000, 1.0)]


def test_load_appends_only_newer_samples() -> None:
    h = Head()
    h.append(0, 2000, 2.0, log=False)
    h.load(0, np.array([1000, 2000, 3000, 4000]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert series(h, 0) == [(2000, 2.0), (3000, 3.0), (4000, 4.0)]
    assert (h.prev_t[0], h.last_t[0]) == (3000, 4000)
    h.load(1, np.array([1000]), np.array([1.0]))
    assert h.bounds(1) == (1000, 1000)
    assert h.samples == 4


def test_load_many_matches_loading_series_one_by_one() -> None:
    refs_in = refs(2, 0, 2, 1, 2, 0)
    ts_in = np.array([1000, 500, 2000, 3000, 3000, 1000])
    vs_in = np.array([1.0, 6.0, 3.0, 4.0, 5.0, 2.0])
    bulk, single = Head(), Head()
    for h in (bulk, single):
        h.append(0, 700, 0.5, log=False)
    bulk.load_many(refs_in, ts_in, vs_in)
    for r in (0, 1, 2):
        mine = refs_in == r
        single.load(r, ts_in[mine], vs_in[mine])
    for h in (bulk, single):
        assert series(h, 0) == [(700, 0.5), (1000, 2.0)]  # 500 is not newer than 700
        assert series(h, 2) == [(1000, 1.0), (2000, 3.0), (3000, 5.0)]
        assert h.bounds(1) == (3000, 3000)
        assert (h.prev_t[0], h.last_t[0]) == (700, 1000)
        assert (h.prev_t[2], h.prev_v[2], h.last_v[2]) == (2000, 3.0, 5.0)
        assert h.prev_t[1] == head_mod.NO_TIME
        assert h.samples == 6
