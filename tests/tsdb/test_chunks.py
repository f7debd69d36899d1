from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.tsdb.chunks import (
    ChunkError,
    decode_many,
    decode_samples,
    encode_many,
    encode_samples,
)
from tocsin.tsdb.types import STALE_NAN, is_stale

series_st = st.lists(
    st.tuples(
        st.lists(st.integers(1, 10**6), min_size=0, max_size=40),
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=40, max_size=40),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(series_st, st.integers(-(10**12), 10**13))
def test_many_round_trip_bit_exact(series: list[tuple[list[int], list[float]]], t0: int) -> None:
    counts, ts_parts, vs_parts = [], [], []
    for gaps, vals in series:
        ts = t0 + np.cumsum(np.asarray(gaps, dtype=np.int64))
        counts.append(len(ts))
        ts_parts.append(ts)
        vs_parts.append(np.asarray(vals[: len(ts)], dtype=np.float64))
    ts = np.concatenate(ts_parts).astype(np.int64)
    vs = np.concatenate(vs_parts)
    blobs = encode_many(counts, ts, vs)
    got_counts, got_ts, got_vs = decode_many(blobs)
    assert got_counts.tolist() == counts
    assert got_ts.tolist() == ts.tolist()
    assert got_vs.view(np.uint64).tolist() == vs.view(np.uint64).tolist()
    for blob, t_part, v_part in zip(blobs, ts_parts, vs_parts, strict=True):
        one_t, one_v = decode_samples(blob)
        assert one_t.tolist() == t_part.tolist()
        assert one_v.view(np.uint64).tolist() == v_part.view(np.uint64).tolist()


def test_regular_series_compress_well_and_keep_stale_markers() -> None:
    ts = np.arange(0, 7_200_000, 15_000, dtype=np.int64) + 1_700_000_000_000
    vs = np.ones(len(ts))
    vs[-1] = STALE_NAN
    blob = encode_samples(ts, vs)
    assert len(blob) < len(ts) * 16 / 20
    t2, v2 = decode_samples(blob)
    assert t2.tolist() == ts.tolist()
    assert is_stale(v2).tolist() == is_stale(vs).tolist()


def test_corrupt_blob_is_reported() -> None:
    blob = encode_samples(np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ChunkError):
        decode_samples(b"XXX" + blob[3:])
    with pytest.raises(ChunkError):
        decode_samples(blob[:-4])
