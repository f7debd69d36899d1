"""Compressed encodings of sample runs and rollups.

Timestamps are stored as delta-of-deltas (regular scrapes give long runs of
zeros); values as the XOR of each float's bits with the previous one's
(unchanged values give zeros). Both are then zlib-compressed together, which
turns those zero runs into a few bytes. Numpy does the arithmetic, so encoding a
block of 100k series costs milliseconds per series-thousand, not per sample.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

_MAGIC = b"TC2"
_HEADER = struct.Struct("<3sI")  # magic, sample count; then zlib(timestamps + values)
_ROLLUP_MAGIC = b"TR1"

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class ChunkError(ValueError):
    """A stored chunk could not be decoded (corrupt or foreign data)."""


def _offsets(counts: I64) -> I64:
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _seg_cumsum(x: I64, starts: I64, counts: I64) -> I64:
    cs = np.cumsum(x)
    base = cs[starts] - x[starts]
    return cs - np.repeat(base, counts)


def encode_many(counts: npt.ArrayLike, ts: I64, values: F64) -> list[bytes]:
    """Compress many series at once: `counts[i]` consecutive samples each.

    The delta-of-delta and XOR transforms run once over all series (numpy);
    only the zlib calls are per series.
    """
    cnt = np.asarray(counts, dtype=np.int64)
    if len(ts) != len(values) or int(cnt.sum()) != len(ts):
        raise ValueError("counts, timestamps and values do not line up")
    if not len(cnt):
        return []
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    all_starts = _offsets(cnt)
    starts = all_starts[cnt > 0]
    d1 = np.diff(ts, prepend=ts[:1])
    enc = np.diff(d1, prepend=d1[:1])
    enc[starts] = ts[starts]
    second = all_starts[cnt > 1] + 1
    enc[second] = d1[second]
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    x = bits.copy()
    x[1:] ^= bits[:-1]
    x[starts] = bits[starts]
    tb, vb = memoryview(enc.tobytes()), memoryview(x.tobytes())
    out = []
    for a, n in zip(all_starts.tolist(), cnt.tolist(), strict=True):
        body = zlib.compress(bytes(tb[8 * a : 8 * (a + n)]) + bytes(vb[8 * a : 8 * (a + n)]), 1)
        out.append(_HEADER.pack(_MAGIC, n) + body)
    return out


def decode_many(blobs: list[bytes]) -> tuple[I64, I64, F64]:
    """Inverse of `encode_many`: (counts, all timestamps, all values)."""
    t_parts: list[bytes] = []
    v_parts: list[bytes] = []
    counts: list[int] = []
    for blob in blobs:
        try:
            magic, n = _HEADER.unpack_from(blob)
            if magic != _MAGIC:
                raise ChunkError(f"not a tocsin chunk (magic {magic!r})")
            raw = zlib.decompress(blob[_HEADER.size :]) if n else b""
        except (struct.error, zlib.error) as exc:
            raise ChunkError(f"corrupt chunk: {exc}") from None
        if len(raw) != 16 * n:
            raise ChunkError(f"corrupt chunk: expected {n} samples")
        t_parts.append(raw[: 8 * n])
        v_parts.append(raw[8 * n :])
        counts.append(n)
    cnt = np.asarray(counts, dtype=np.int64)
    enc = np.frombuffer(b"".join(t_parts), dtype=np.int64)
    x = np.frombuffer(b"".join(v_parts), dtype=np.uint64)
    if not len(enc):
        return cnt, enc.copy(), x.view(np.float64).copy()
    keep = cnt > 0
    starts = _offsets(cnt)[keep]
    nz = cnt[keep]
    d = enc.copy()
    d[starts] = 0
    ts = np.repeat(enc[starts], nz) + _seg_cumsum(_seg_cumsum(d, starts, nz), starts, nz)
    acc = np.bitwise_xor.accumulate(x)
    base = acc[starts] ^ x[starts]
    vs = (acc ^ np.repeat(base, nz)).view(np.float64)
    return cnt, ts, vs


def encode_samples(ts: I64, values: F64) -> bytes:
    """Compress one series' samples (ts strictly increasing, same length)."""
    if len(ts) != len(values):
        raise ValueError("timestamps and values differ in length")
    if not len(ts):
        return _HEADER.pack(_MAGIC, 0)
    return encode_many([len(ts)], np.asarray(ts), np.asarray(values))[0]


def decode_samples(blob: bytes) -> tuple[I64, F64]:
    _, ts, vs = decode_many([blob])
    return ts, vs


def encode_columns(**cols: npt.NDArray[np.generic]) -> bytes:
    """Compress a few equal-length numeric columns (rollups, flush segments)."""
    names = ",".join(cols).encode()
    parts = [struct.pack("<3sH", _ROLLUP_MAGIC, len(names)), names]
    body = b"".join(
        np.ascontiguousarray(c).astype(c.dtype.newbyteorder("<")).dtype.str.encode().ljust(4)
        + struct.pack("<Q", len(c))
        + np.ascontiguousarray(c).tobytes()
        for c in cols.values()
    )
    return b"".join(parts) + zlib.compress(body, 1)


def decode_columns(blob: bytes) -> dict[str, npt.NDArray[np.generic]]:
    try:
        magic, n_len = struct.unpack_from("<3sH", blob)
        if magic != _ROLLUP_MAGIC:
            raise ChunkError(f"not a tocsin column blob (magic {magic!r})")
        names = blob[5 : 5 + n_len].decode().split(",")
        body = zlib.decompress(blob[5 + n_len :])
    except (struct.error, zlib.error, UnicodeDecodeError) as exc:
        raise ChunkError(f"corrupt column blob: {exc}") from None
    out: dict[str, npt.NDArray[np.generic]] = {}
    off = 0
    for name in names:
        dtype = np.dtype(body[off : off + 4].decode().strip())
        (count,) = struct.unpack_from("<Q", body, off + 4)
        off += 12
        size = count * dtype.itemsize
        out[name] = np.frombuffer(body[off : off + size], dtype=dtype).copy()
        off += size
    return out
