"""Series registry and label index, stored column-wise over interned strings.

Every series gets a small integer ref. Every label name and value is
interned once in a symbol table (symbol 0 is the empty string, "absent"),
and each label name is an int32 column indexed by ref holding the value's
symbol. A fleet's series share most of their strings (venue, region,
importance, the metric names), so a series costs a few column cells plus
about 13 B in the ref lookup (`tsdb/reftable.py`: a hash table in arrays,
checked against the columns), instead of a dict, a tuple key and
posting-list entries per label.

Matching is array work: an equality matcher is one comparison over the
column, a regex matcher is evaluated once per distinct value present, never
once per series. Selections are cached per matcher tuple until the set of
series changes, which in a steady fleet means every rule evaluation after
the first is a dict hit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from tocsin.promql.labels import Column, LabelTable
from tocsin.tsdb.reftable import EMPTY, HASH_MASK, RefTable
from tocsin.tsdb.types import LabelMatcher, Labels, MatchOp

SeriesKey = tuple[tuple[str, str], ...]
Refs = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int32]

_CACHE_MAX = 4096
_MIN_CAPACITY = 1024
_NAME = 1
"""The symbol of `__name__`, fixed (compaction always keeps it)."""
_key_hash = hash
"""Hash of a series' key tuple: CPython's tuple hash, in C; a name tests can replace."""
_MAX_COUNT = 255
"""Label counts are kept in a byte; a series with more is checked in full."""


def series_key(labels: Labels) -> SeriesKey:
    """The canonical, hashable identity of a label set (empty values dropped)."""
    return tuple(sorted((k, v) for k, v in labels.items() if v != ""))


def _drop_empty(key: list[int]) -> list[int]:
    """`key` without the pairs whose value is the empty string (symbol 0)."""
    return [x for i in range(0, len(key), 2) if key[i + 1] for x in key[i : i + 2]]


class SeriesIndex:
    """Labels of every known series, by ref, with columns for matching."""

    def __init__(self) -> None:
        self._sym: dict[str, int] = {"": 0, "__name__": _NAME}
        self._strs: list[str] = ["", "__name__"]
        # name symbol -> value symbol per ref (0: the series lacks the label)
        self._cols: dict[int, Codes] = {}
        self._order: list[tuple[str, int]] = []
        """(name, name symbol) of every column, sorted by name."""
        self._name_live: dict[int, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._cap = 0
        self._n = 0
        self._count = 0
        self._views: dict[int, memoryview] = {}
        """`_cols` as memoryviews, for reading single cells as plain ints."""
        # Ref lookup: a hash table over each series' sorted (name, value)
        # symbols, checked against the columns and the label count.
        self._refs = RefTable()
        self._nlabels_np = np.zeros(0, dtype=np.uint8)
        self._nlabels = self._nlabels_np.data
        self._cache: dict[tuple[LabelMatcher, ...], Refs] = {}
        self.generation = 0
        self.removals = 0

    def __len__(self) -> int:
        return self._count

    @property
    def capacity(self) -> int:
        """One more than the largest ref ever issued."""
        return self._n

    # -- keys -------------------------------------------------------------------

    def _intern(self, s: str) -> int:
        got = self._sym.get(s)
        if got is None:
            got = self._sym[s] = len(self._strs)
            self._strs.append(s)
        return got

    def _known_key(self, labels: Labels) -> list[int] | None:
        """Name and value symbols of `labels`, sorted by name, if all are interned."""
        get = self._sym.get
        key = [get(s) for kv in sorted(labels.items()) for s in kv]
        if None in key:
            if "" not in labels.values():
                return None
            # An empty value means the label is absent, interned name or not.
            key = [get(s) for kv in sorted(labels.items()) if kv[1] for s in kv]
            return None if None in key else key  # type: ignore[return-value]
        return _drop_empty(key) if 0 in key else key  # type: ignore[arg-type,return-value]

    def _new_key(self, labels: Labels) -> list[int]:
        intern = self._intern
        key = [intern(s) for kv in sorted(labels.items()) for s in kv]
        # Symbol 0 is "": an empty value means the label is absent.
        return _drop_empty(key) if 0 in key else key

    def _find(self, key: list[int], h: int) -> int | None:
        """The ref of the series with exactly the labels of `key` (hash `h`).

        The probe loop is here rather than in RefTable because it runs on
        every lookup: a callback per candidate would cost more than the loop.
        """
        t = self._refs
        slots, hashes, mask = t.slots, t.hashes, t.mask
        h &= HASH_MASK
        n = len(key) >> 1
        if n > _MAX_COUNT:
            n = _MAX_COUNT
        nlabels, views = self._nlabels, self._views
        i = h & mask
        while True:
            r = slots[i]
            if r == EMPTY:
                return None
            if r >= 0 and hashes[r] == h and nlabels[r] == n:
                # Same hash and label count; the columns decide.
                pairs = iter(key)
                try:
                    for name in pairs:
                        if views[name][r] != next(pairs):
                            break
                    else:
                        if n < _MAX_COUNT or self._key_of(r) == key:
                            return r
                except KeyError:  # a name without a column: not this series
                    pass
            i = (i + 1) & mask

    def _key_of(self, ref: int) -> list[int]:
        return [x for _name, sym in self._order if (c := self._views[sym][ref]) for x in (sym, c)]

    def _keys_of(self, refs: Refs) -> list[tuple[int, ...]]:
        """`_key_of` for many refs, gathered per set of label names present."""
        if not len(refs):
            return []
        syms = np.array([sym for _name, sym in self._order], dtype=np.int32)
        codes = np.stack([self._cols[sym][refs] for sym in syms.tolist()], axis=1)
        shapes, which = np.unique(codes != 0, axis=0, return_inverse=True)
        out: list[tuple[int, ...]] = [()] * len(refs)
        for s, shape in enumerate(shapes):
            rows = np.flatnonzero(which.reshape(-1) == s)
            present = np.flatnonzero(shape)
            keys = np.empty((len(rows), 2 * len(present)), dtype=np.int64)
            keys[:, 0::2] = syms[present]
            keys[:, 1::2] = codes[np.ix_(rows, present)]
            for i, k in zip(rows.tolist(), keys.tolist(), strict=True):
                out[i] = tuple(k)
        return out

    # -- registry ---------------------------------------------------------------

    def ref(self, labels: Labels) -> int | None:
        key = self._known_key(labels)
        return None if key is None else self._find(key, _key_hash(tuple(key)))

    def get_or_create(self, labels: Labels) -> int:
        key = self._known_key(labels)
        if key is None:
            # A string never seen before: the series cannot exist yet.
            key = self._new_key(labels)
            h = _key_hash(tuple(key))
        else:
            h = _key_hash(tuple(key))
            ref = self._find(key, h)
            if ref is not None:
                return ref
        ref = self._n
        self._insert(ref, key, h)
        return ref

    def add(self, ref: int, labels: Labels) -> None:
        """Register a series under a fixed ref (reloading persisted series)."""
        key = self._new_key(labels)
        h = _key_hash(tuple(key))
        existing = self._find(key, h)
        if existing is not None:
            if existing != ref:
                raise ValueError(
                    f"series {dict(series_key(labels))} already has ref {existing}, not {ref}"
                )
            return
        self._insert(ref, key, h)

    def _set_col(self, sym: int, col: Codes) -> None:
        self._cols[sym] = col
        self._views[sym] = col.data

    def _grow(self, ref: int) -> None:
        # 1/8 headroom, not doubling: the columns are most of the index's
        # memory, and growing is a copy of a few MB, rare and cheap.
        cap = max(ref + 1, self._cap + self._cap // 8, _MIN_CAPACITY)
        extra = cap - self._cap
        for sym, col in list(self._cols.items()):
            self._set_col(sym, np.concatenate([col, np.zeros(extra, dtype=np.int32)]))
        self._alive = np.concatenate([self._alive, np.zeros(extra, dtype=bool)])
        self._nlabels_np = np.concatenate([self._nlabels_np, np.zeros(extra, dtype=np.uint8)])
        self._nlabels = self._nlabels_np.data
        self._cap = cap

    def _insert(self, ref: int, key: list[int], h: int) -> None:
        if ref >= self._cap:
            self._grow(ref)
        elif self._alive[ref]:
            raise ValueError(f"ref {ref} is already in use")
        views = self._views
        live = self._name_live
        for i in range(0, len(key), 2):
            name = key[i]
            col = views.get(name)
            if col is None:
                self._set_col(name, np.zeros(self._cap, dtype=np.int32))
                col = views[name]
                self._order.append((self._strs[name], name))
                self._order.sort()
            col[ref] = key[i + 1]
            live[name] = live.get(name, 0) + 1
        self._nlabels[ref] = min(len(key) >> 1, _MAX_COUNT)
        self._alive[ref] = True
        self._n = max(self._n, ref + 1)
        self._refs.insert(ref, h)
        self._count += 1
        self._touch()

    def remove(self, refs: Iterable[int]) -> None:
        """Forget series (retention ran out)."""
        gone = [r for r in set(refs) if 0 <= r < self._n and self._alive[r]]
        if not gone:
            return
        for ref in gone:
            self._refs.remove(ref)
        idx = np.asarray(gone, dtype=np.int64)
        for sym, col in self._cols.items():
            self._name_live[sym] -= int(np.count_nonzero(col[idx]))
            col[idx] = 0
        self._alive[idx] = False
        self._count -= len(gone)
        self.removals += 1
        self._touch()
        self._compact_symbols()

    def _compact_symbols(self) -> None:
        """Drop strings no live series uses once they are most of the table.

        Under churn (short-lived series with unique values) the symbol table
        would otherwise only grow. Renumbering rewrites the columns and every
        series' hash, so it runs only when at least half of the table is dead.
        """
        n = self._n
        alive = self._alive[:n]
        used = np.zeros(len(self._strs), dtype=bool)
        used[: _NAME + 1] = True
        for sym, col in self._cols.items():
            if self._name_live[sym] > 0:
                used[sym] = True
                used[col[:n][alive]] = True
        if int(used.sum()) * 2 > len(self._strs):
            return
        new_of = np.cumsum(used, dtype=np.int64) - 1
        self._strs = [s for s, u in zip(self._strs, used.tolist(), strict=True) if u]
        self._sym = {s: i for i, s in enumerate(self._strs)}
        old = self._cols
        self._cols, self._views = {}, {}
        for sym, col in old.items():
            if self._name_live[sym] > 0:
                self._set_col(int(new_of[sym]), new_of[col].astype(np.int32))
        self._name_live = {int(new_of[sym]): c for sym, c in self._name_live.items() if c > 0}
        self._order = sorted((self._strs[sym], sym) for sym in self._cols)
        live = np.flatnonzero(alive).astype(np.int64)
        hashes = [_key_hash(k) & HASH_MASK for k in self._keys_of(live)]
        self._refs.reset(live, np.array(hashes, dtype=np.uint32))

    def _touch(self) -> None:
        self.generation += 1
        if self._cache:
            self._cache.clear()

    # -- reading labels -----------------------------------------------------------

    def labels(self, ref: int) -> dict[str, str]:
        if not (0 <= ref < self._n and self._alive[ref]):
            raise KeyError(f"no series with ref {ref}")
        strs, cols = self._strs, self._cols
        out: dict[str, str] = {}
        for name, sym in self._order:
            c = int(cols[sym][ref])
            if c:
                out[name] = strs[c]
        return out

    def labels_of(self, refs: Iterable[int]) -> list[dict[str, str]]:
        """Fresh label dicts of `refs` (which must be live), names sorted."""
        r = np.fromiter(refs, dtype=np.int64) if not isinstance(refs, np.ndarray) else refs
        out: list[dict[str, str]] = [{} for _ in range(len(r))]
        strs = self._strs
        for name, sym in self._order:
            codes = self._cols[sym][r]
            nz = np.flatnonzero(codes)
            for i, c in zip(nz.tolist(), codes[nz].tolist(), strict=True):
                out[i][name] = strs[c]
        return out

    def table(self, refs: Refs) -> LabelTable:
        """The label sets of `refs` as the engine's columnar LabelTable."""
        cols: dict[str, Column] = {}
        strs = self._strs
        for name, sym in self._order:
            codes = self._cols[sym][refs]
            if not codes.any():
                continue
            present, inverse = np.unique(codes, return_inverse=True)
            if present[0] != 0:
                present = np.concatenate([[0], present])
                inverse = inverse + 1
            cols[name] = (inverse.astype(np.int32), [strs[c] for c in present.tolist()])
        return LabelTable(len(refs), cols)

    # -- matching -----------------------------------------------------------------

    def all_refs(self) -> Refs:
        return np.flatnonzero(self._alive[: self._n]).astype(np.int64)

    def select(self, matchers: Sequence[LabelMatcher]) -> Refs:
        """Sorted refs of the series matching every matcher."""
        key = tuple(matchers)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        mask = self._alive[: self._n].copy()
        for m in matchers:
            if not mask.any():
                break
            mask &= self._matcher_mask(m)
        refs = np.flatnonzero(mask).astype(np.int64)
        refs.setflags(write=False)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = refs
        return refs

    def _codes(self, name: str) -> Codes | None:
        sym = self._sym.get(name)
        col = self._cols.get(sym) if sym is not None else None
        return None if col is None else col[: self._n]

    def _matcher_mask(self, m: LabelMatcher) -> npt.NDArray[np.bool_]:
        """Which refs satisfy `m` (dead refs may be set; callers AND with alive)."""
        codes = self._codes(m.name)
        n = self._n
        if codes is None:  # nobody has the label: it reads as "" everywhere
            return np.full(n, m.matches(""), dtype=bool)
        if m.op in (MatchOp.EQ, MatchOp.NE):
            value = self._sym.get(m.value)
            eq = np.zeros(n, dtype=bool) if value is None else codes == value
            return eq if m.op is MatchOp.EQ else ~eq
        present = np.flatnonzero(np.bincount(codes[self._alive[:n]], minlength=1))
        strs = self._strs
        table = np.zeros(int(present[-1]) + 1 if len(present) else 1, dtype=bool)
        good = [c for c in present.tolist() if m.matches(strs[c])]
        table[good] = True
        # Values only dead series had are beyond or unset in the table: no match,
        # which is harmless because dead refs are masked out by the caller.
        return table[np.minimum(codes, len(table) - 1)] & (codes < len(table))

    # -- label queries ----------------------------------------------------------------

    def label_names(self, refs: Refs | None = None) -> list[str]:
        if refs is None:
            return sorted(self._strs[s] for s, c in self._name_live.items() if c > 0)
        return [name for name, sym in self._order if self._cols[sym][refs].any()]

    def label_values(self, name: str, refs: Refs | None = None) -> list[str]:
        codes = self._codes(name)
        if codes is None:
            return []
        picked = codes[self._alive[: self._n]] if refs is None else codes[refs]
        present = np.flatnonzero(np.bincount(picked, minlength=1))
        strs = self._strs
        return sorted(strs[c] for c in present.tolist() if c)
