"""Series registry and label index, stored column-wise over interned strings.

Every series gets a small integer ref. Every label name and value is
interned once in a symbol table (symbol 0 is the empty string, "absent"),
and each label name is an int32 column indexed by ref holding the value's
symbol. A fleet's series share most of their strings (venue, region,
importance, the metric names), so a series costs a few column cells plus
its key in the ref lookup, instead of a dict, a tuple key and posting-list
entries per label.

Matching is array work: an equality matcher is one comparison over the
column, a regex matcher is evaluated once per distinct value present, never
once per series. Selections are cached per matcher tuple until the set of
series changes, which in a steady fleet means every rule evaluation after
the first is a dict hit.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from tocsin.promql.labels import Column, LabelTable
from tocsin.tsdb.types import LabelMatcher, Labels, MatchOp

SeriesKey = tuple[tuple[str, str], ...]
Refs = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int32]

_CACHE_MAX = 4096
_MIN_CAPACITY = 1024
_NAME = 1
"""The symbol of `__name__`, fixed so the lookup can find its column."""


def series_key(labels: Labels) -> SeriesKey:
    """The canonical, hashable identity of a label set (empty values dropped)."""
    return tuple(sorted((k, v) for k, v in labels.items() if v != ""))


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
        # Ref lookup. Series of one target differ only in `__name__`, so the
        # key is the packed, sorted (name, value) symbol pairs *without*
        # `__name__`, shared: it maps to the newest such series, and `_next`
        # chains the others (-1 ends a chain); the `__name__` column tells
        # them apart.
        self._by_rest: dict[bytes, int] = {}
        self._next = np.zeros(0, dtype=np.int32)
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

    def _known_key(self, labels: Labels) -> tuple[bytes, int] | None:
        """(rest, name symbol) of `labels` if every string in it is interned."""
        get = self._sym.get
        parts: list[int] = []
        name = 0
        for k, v in sorted(labels.items()):
            if v == "":
                continue
            a, b = get(k), get(v)
            if a is None or b is None:
                return None
            if a == _NAME:
                name = b
            else:
                parts.append(a)
                parts.append(b)
        return array("i", parts).tobytes(), name

    def _new_pairs(self, labels: Labels) -> list[tuple[int, int]]:
        intern = self._intern
        return [(intern(k), intern(v)) for k, v in sorted(labels.items()) if v != ""]

    @staticmethod
    def _split(pairs: Sequence[tuple[int, int]]) -> tuple[bytes, int]:
        rest = array("i", [x for p in pairs if p[0] != _NAME for x in p]).tobytes()
        return rest, next((v for n, v in pairs if n == _NAME), 0)

    def _rest_of_ref(self, ref: int) -> bytes:
        parts: list[int] = []
        for _name, sym in self._order:
            if sym == _NAME:
                continue
            c = int(self._cols[sym][ref])
            if c:
                parts.append(sym)
                parts.append(c)
        return array("i", parts).tobytes()

    def _lookup(self, rest: bytes, name: int) -> int | None:
        r = self._by_rest.get(rest)
        if r is None:
            return None
        names = self._cols.get(_NAME)
        nxt = self._next
        while r >= 0:
            if (int(names[r]) if names is not None else 0) == name:
                return r
            r = int(nxt[r])
        return None

    def _link(self, ref: int, rest: bytes) -> None:
        self._next[ref] = self._by_rest.get(rest, -1)
        self._by_rest[rest] = ref

    def _unlink(self, ref: int) -> None:
        rest = self._rest_of_ref(ref)
        nxt = self._next
        r = self._by_rest[rest]
        if r == ref:
            if nxt[ref] < 0:
                del self._by_rest[rest]
            else:
                self._by_rest[rest] = int(nxt[ref])
            return
        while int(nxt[r]) != ref:
            r = int(nxt[r])
        nxt[r] = nxt[ref]

    # -- registry ---------------------------------------------------------------

    def ref(self, labels: Labels) -> int | None:
        key = self._known_key(labels)
        return None if key is None else self._lookup(*key)

    def get_or_create(self, labels: Labels) -> int:
        key = self._known_key(labels)
        if key is not None:
            ref = self._lookup(*key)
            if ref is not None:
                return ref
        pairs = self._new_pairs(labels)
        ref = self._n
        self._insert(ref, pairs, self._split(pairs)[0])
        return ref

    def add(self, ref: int, labels: Labels) -> None:
        """Register a series under a fixed ref (reloading persisted series)."""
        pairs = self._new_pairs(labels)
        rest, name = self._split(pairs)
        existing = self._lookup(rest, name)
        if existing is not None:
            if existing != ref:
                raise ValueError(
                    f"series {dict(series_key(labels))} already has ref {existing}, not {ref}"
                )
            return
        self._insert(ref, pairs, rest)

    def _grow(self, ref: int) -> None:
        # 1/8 headroom, not doubling: the columns are most of the index's
        # memory, and growing is a copy of a few MB, rare and cheap.
        cap = max(ref + 1, self._cap + self._cap // 8, _MIN_CAPACITY)
        extra = cap - self._cap
        for sym, col in self._cols.items():
            self._cols[sym] = np.concatenate([col, np.zeros(extra, dtype=np.int32)])
        self._alive = np.concatenate([self._alive, np.zeros(extra, dtype=bool)])
        self._next = np.concatenate([self._next, np.full(extra, -1, dtype=np.int32)])
        self._cap = cap

    def _insert(self, ref: int, pairs: Sequence[tuple[int, int]], rest: bytes) -> None:
        if ref >= self._cap:
            self._grow(ref)
        elif self._alive[ref]:
            raise ValueError(f"ref {ref} is already in use")
        cols = self._cols
        for name, value in pairs:
            col = cols.get(name)
            if col is None:
                col = cols[name] = np.zeros(self._cap, dtype=np.int32)
                self._order.append((self._strs[name], name))
                self._order.sort()
            col[ref] = value
            self._name_live[name] = self._name_live.get(name, 0) + 1
        self._alive[ref] = True
        self._n = max(self._n, ref + 1)
        self._link(ref, rest)
        self._count += 1
        self._touch()

    def remove(self, refs: Iterable[int]) -> None:
        """Forget series (retention ran out)."""
        gone = [r for r in set(refs) if 0 <= r < self._n and self._alive[r]]
        if not gone:
            return
        for ref in gone:
            self._unlink(ref)
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
        key, so it runs only when at least half of the table is dead.
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
        self._cols = {
            int(new_of[sym]): new_of[col].astype(np.int32)
            for sym, col in self._cols.items()
            if self._name_live[sym] > 0
        }
        self._name_live = {int(new_of[sym]): c for sym, c in self._name_live.items() if c > 0}
        self._order = sorted((self._strs[sym], sym) for sym in self._cols)
        self._by_rest = {}
        self._next[:] = -1
        for r in np.flatnonzero(alive).tolist():
            self._link(r, self._rest_of_ref(r))

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
