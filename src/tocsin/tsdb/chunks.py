"""Compressed encodings of sample runs and rollups.

Timestamps are stored as delta-of-deltas (regular scrapes give long runs of
zeros); values as the XOR of each float's bits with the previous one's
(unchanged values give zeros). Both are then zlib-compressed, which turns
those zero runs into a few bytes. Numpy does the arithmetic, so encoding a
block of 100k series costs milliseconds per series-thousand, not per sample.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

_MAGIC = b"TC1"
_HEADER = struct.Struct("<3sII")  # magic, sample count, compressed timestamp length
_ROLLUP_MAGIC = b"TR1"

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class ChunkError(ValueError):
    """A stored chunk could not be decoded (corrupt or foreign data)."""


def _dod(ts: I64) -> I64:
    if len(ts) < 2:
        return ts.astype(np.int64)
    out = np.empty_like(ts)
    out[0] = ts[0]
    d = np.diff(ts)
    out[1] = d[0]
    out[2:] = np.diff(d)
    return out


def _undod(enc: I64) -> I64:
    if len(enc) < 2:
        return enc.copy()
    d = np.cumsum(enc[1:])
    return np.concatenate([enc[:1], enc[0] + np.cumsum(d)])


def _xor(values: F64) -> npt.NDArray[np.uint64]:
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    out = bits.copy()
    out[1:] ^= bits[:-1]
    return out


def _unxor(enc: npt.NDArray[np.uint64]) -> F64:
    return np.bitwise_xor.accumulate(enc).view(np.float64)


def encode_samples(ts: I64, values: F64) -> bytes:
    """Compress one series' samples (ts strictly increasing, same length)."""
    if len(ts) != len(values):
        raise ValueError("timestamps and values differ in length")
    t_blob = zlib.compress(_dod(np.asarray(ts, dtype=np.int64)).tobytes(), 1)
    v_blob = zlib.compress(_xor(np.asarray(values, dtype=np.float64)).tobytes(), 1)
    return _HEADER.pack(_MAGIC, len(ts), len(t_blob)) + t_blob + v_blob


def decode_samples(blob: bytes) -> tuple[I64, F64]:
    try:
        magic, n, t_len = _HEADER.unpack_from(blob)
        if magic != _MAGIC:
            raise ChunkError(f"not a tocsin chunk (magic {magic!r})")
        off = _HEADER.size
        t_enc = np.frombuffer(zlib.decompress(blob[off : off + t_len]), dtype=np.int64)
        v_enc = np.frombuffer(zlib.decompress(blob[off + t_len :]), dtype=np.uint64)
    except (struct.error, zlib.error) as exc:
        raise ChunkError(f"corrupt chunk: {exc}") from None
    if len(t_enc) != n or len(v_enc) != n:
        raise ChunkError(f"corrupt chunk: expected {n} samples")
    return _undod(t_enc), _unxor(v_enc)


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
