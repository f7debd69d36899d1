"""Open-addressing hash table from a series' label hash to its ref, in arrays.

The series index needs "which ref has exactly these labels". A dict keyed by
the packed labels cost a bytes object and a dict slot per key (about 130 B
per fleet target). Here it costs an int32 slot, at most 3/4 and at least 3/8
full (5-11 B per series), plus a uint32 hash per ref (4 B). The table holds
only refs: the index probes it (`slots`, `hashes`, `mask`) and checks each
candidate against the label columns it keeps anyway, so a hash collision
can never merge two series.

Linear probing; a removed ref leaves a tombstone until the next rebuild.
Slots and hashes are numpy arrays read through memoryviews (`ndarray.data`),
because indexing a memoryview yields a plain int several times faster than
a numpy scalar, and the probe loop runs on every ref lookup.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EMPTY = -1
GONE = -2
_MIN_SLOTS = 1024
_MIN_REFS = 1024
HASH_MASK = 0xFFFFFFFF
"""Stored hashes are the low 32 bits of the caller's hash."""


def _size_for(n: int) -> int:
    """Slots for `n` refs: a power of two at most half full after a rebuild."""
    size = _MIN_SLOTS
    while size < 2 * (n + 1):
        size *= 2
    return size


class RefTable:
    """Hash -> ref, for refs whose equality the caller verifies."""

    def __init__(self) -> None:
        # Public for the index's probe loop: slot -> ref (EMPTY, GONE), ref ->
        # low 32 bits of its hash, and the slot count minus one.
        self._slots_np = np.full(_MIN_SLOTS, EMPTY, dtype=np.int32)
        self.slots = self._slots_np.data
        self.mask = _MIN_SLOTS - 1
        self._hash_np = np.zeros(0, dtype=np.uint32)
        self.hashes = self._hash_np.data
        self._live = 0
        self._filled = 0
        """Live refs plus tombstones: what probing has to walk over."""

    def __len__(self) -> int:
        return self._live

    @property
    def nbytes(self) -> int:
        return int(self._slots_np.nbytes + self._hash_np.nbytes)

    def candidates(self, h: int) -> list[int]:
        """Refs on the probe path of hash `h`, for tests (the index inlines this)."""
        out = []
        i = h & HASH_MASK & self.mask
        while (r := self.slots[i]) != EMPTY:
            if r >= 0 and self.hashes[r] == h & HASH_MASK:
                out.append(r)
            i = (i + 1) & self.mask
        return out

    def insert(self, ref: int, h: int) -> None:
        """Store `ref`, which the caller has checked is not in the table yet."""
        h &= HASH_MASK
        if ref >= len(self._hash_np):
            self._grow_hashes(ref)
        self.hashes[ref] = h
        if 4 * (self._filled + 1) > 3 * len(self._slots_np):
            self._rebuild(_size_for(self._live + 1))
        slots, mask = self.slots, self.mask
        i = h & mask
        while slots[i] >= 0:
            i = (i + 1) & mask
        if slots[i] == EMPTY:
            self._filled += 1
        slots[i] = ref
        self._live += 1

    def remove(self, ref: int) -> None:
        """Drop `ref`, which must be in the table."""
        slots, mask = self.slots, self.mask
        i = self.hashes[ref] & mask
        while slots[i] != ref:
            i = (i + 1) & mask
        slots[i] = GONE
        self._live -= 1

    def reset(self, refs: npt.NDArray[np.int64], hashes: npt.NDArray[np.uint32]) -> None:
        """Replace the contents by `refs` with their (new) `hashes`."""
        self._hash_np[:] = 0
        self._hash_np[refs] = hashes
        self._place(refs, _size_for(len(refs)))

    def _grow_hashes(self, ref: int) -> None:
        # 1/8 headroom like the index's columns; refs only ever grow.
        n = len(self._hash_np)
        cap = max(ref + 1, n + n // 8, _MIN_REFS)
        self._hash_np = np.concatenate([self._hash_np, np.zeros(cap - n, dtype=np.uint32)])
        self.hashes = self._hash_np.data

    def _rebuild(self, size: int) -> None:
        refs = self._slots_np[self._slots_np >= 0].astype(np.int64)
        self._place(refs, size)

    def _place(self, refs: npt.NDArray[np.int64], size: int) -> None:
        """Lay `refs` out in a fresh table of `size` slots, without a loop per ref.

        Sorted by home slot, linear probing puts the k-th ref at
        max(home_k, place_{k-1} + 1), a running maximum of home_k - k. Refs
        that run past the end wrap round, probing from their home like any
        insert (there are few: the table is at most half full).
        """
        mask = size - 1
        home = self._hash_np[refs].astype(np.int64) & mask
        order = np.argsort(home, kind="stable")
        home, refs = home[order], refs[order]
        k = np.arange(len(refs), dtype=np.int64)
        place = np.maximum.accumulate(home - k) + k if len(refs) else k
        slots = np.full(size, EMPTY, dtype=np.int32)
        fits = place < size
        slots[place[fits]] = refs[fits]
        self._slots_np, self.slots, self.mask = slots, slots.data, mask
        self._live = self._filled = int(fits.sum())
        for ref in refs[~fits].tolist():
            self.insert(ref, self.hashes[ref])
