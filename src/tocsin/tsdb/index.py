"""Series registry and postings index.

Every series gets a small integer ref. Postings map `name -> value -> refs`,
so an equality matcher is one dict lookup and a regex matcher is evaluated
once per distinct label value, never once per series. Selections are cached
per matcher tuple until the set of series changes, which in a steady fleet
means every rule evaluation after the first is a dict hit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from tocsin.tsdb.types import LabelMatcher, Labels, MatchOp

SeriesKey = tuple[tuple[str, str], ...]
Refs = npt.NDArray[np.int64]

_CACHE_MAX = 4096


def series_key(labels: Labels) -> SeriesKey:
    """The canonical, hashable identity of a label set (empty values dropped)."""
    return tuple(sorted((k, v) for k, v in labels.items() if v != ""))


class SeriesIndex:
    """Labels of every known series, by ref, with postings for matching."""

    def __init__(self) -> None:
        self._labels: list[dict[str, str] | None] = []
        self._by_key: dict[SeriesKey, int] = {}
        self._postings: dict[str, dict[str, list[int]]] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._count = 0
        self._cache: dict[tuple[LabelMatcher, ...], Refs] = {}
        # Label sets as producers build them (same dict, same order every sweep):
        # a hit skips sorting the labels into the canonical key.
        self._by_items: dict[tuple[tuple[str, str], ...], int] = {}
        self.generation = 0
        self.removals = 0

    def __len__(self) -> int:
        return self._count

    @property
    def capacity(self) -> int:
        """One more than the largest ref ever issued."""
        return len(self._labels)

    def ref(self, labels: Labels) -> int | None:
        return self._by_key.get(series_key(labels))

    def ref_for_key(self, key: SeriesKey) -> int | None:
        return self._by_key.get(key)

    def labels(self, ref: int) -> dict[str, str]:
        got = self._labels[ref] if 0 <= ref < len(self._labels) else None
        if got is None:
            raise KeyError(f"no series with ref {ref}")
        return got

    def labels_of(self, refs: Iterable[int]) -> list[dict[str, str]]:
        table = self._labels
        return [table[r] for r in refs]  # type: ignore[misc]

    def get_or_create(self, labels: Labels) -> int:
        items = tuple(labels.items())
        ref = self._by_items.get(items)
        if ref is not None:
            return ref
        key = series_key(labels)
        ref = self._by_key.get(key)
        if ref is None:
            ref = len(self._labels)
            self._insert(ref, key)
        if len(self._by_items) > 4 * len(self._by_key) + 1024:
            self._by_items.clear()  # many spellings of the same sets: start over
        self._by_items[items] = ref
        return ref

    def add(self, ref: int, labels: Labels) -> None:
        """Register a series under a fixed ref (reloading persisted series)."""
        key = series_key(labels)
        existing = self._by_key.get(key)
        if existing is not None:
            if existing != ref:
                raise ValueError(f"series {dict(key)} already has ref {existing}, not {ref}")
            return
        self._insert(ref, key)

    def _insert(self, ref: int, key: SeriesKey) -> None:
        if ref >= len(self._labels):
            self._labels.extend([None] * (ref + 1 - len(self._labels)))
        elif self._labels[ref] is not None:
            raise ValueError(f"ref {ref} is already in use")
        lbls = dict(key)
        self._labels[ref] = lbls
        self._by_key[key] = ref
        for name, value in key:
            self._postings.setdefault(name, {}).setdefault(value, []).append(ref)
        self._count += 1
        self._touch()

    def remove(self, refs: Iterable[int]) -> None:
        """Forget series (retention ran out). Rebuilds postings in one pass."""
        gone = set(refs)
        if not gone:
            return
        for ref in gone:
            lbls = self._labels[ref]
            if lbls is not None:
                del self._by_key[series_key(lbls)]
                self._labels[ref] = None
                self._count -= 1
        for values in self._postings.values():
            for value in list(values):
                kept = [r for r in values[value] if r not in gone]
                if kept:
                    values[value] = kept
                else:
                    del values[value]
        for name in [n for n, v in self._postings.items() if not v]:
            del self._postings[name]
        self.removals += 1
        self._by_items.clear()
        self._touch()

    def _touch(self) -> None:
        self.generation += 1
        if self._cache:
            self._cache.clear()
        if len(self._alive):
            self._alive = np.zeros(0, dtype=bool)

    def _alive_mask(self) -> npt.NDArray[np.bool_]:
        if len(self._alive) != len(self._labels):
            self._alive = np.fromiter(
                (lb is not None for lb in self._labels), dtype=bool, count=len(self._labels)
            )
        return self._alive

    def all_refs(self) -> Refs:
        return np.flatnonzero(self._alive_mask()).astype(np.int64)

    def select(self, matchers: Sequence[LabelMatcher]) -> Refs:
        """Sorted refs of the series matching every matcher."""
        key = tuple(matchers)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        mask = self._alive_mask().copy()
        for m in matchers:
            mask &= self._matcher_mask(m)
            if not mask.any():
                break
        refs = np.flatnonzero(mask).astype(np.int64)
        refs.setflags(write=False)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = refs
        return refs

    def _matcher_mask(self, m: LabelMatcher) -> npt.NDArray[np.bool_]:
        values = self._postings.get(m.name, {})
        n = len(self._labels)
        if m.matches(""):
            # Series without the label match too: start from everything and
            # knock out the values the matcher rejects.
            mask = self._alive_mask().copy()
            if m.op is MatchOp.NE:
                self._set(mask, values.get(m.value), False)
            else:
                for value, refs in values.items():
                    if not m.matches(value):
                        self._set(mask, refs, False)
            return mask
        mask = np.zeros(n, dtype=bool)
        if m.op is MatchOp.EQ:
            self._set(mask, values.get(m.value), True)
        else:
            for value, refs in values.items():
                if m.matches(value):
                    self._set(mask, refs, True)
        return mask

    @staticmethod
    def _set(mask: npt.NDArray[np.bool_], refs: list[int] | None, to: bool) -> None:
        if refs:
            mask[np.asarray(refs, dtype=np.int64)] = to

    def label_names(self, refs: Refs | None = None) -> list[str]:
        if refs is None:
            return sorted(self._postings)
        names: set[str] = set()
        table = self._labels
        for r in refs.tolist():
            lb = table[r]
            if lb is not None:
                names.update(lb)
        return sorted(names)

    def label_values(self, name: str, refs: Refs | None = None) -> list[str]:
        if refs is None:
            return sorted(self._postings.get(name, {}))
        out: set[str] = set()
        table = self._labels
        for r in refs.tolist():
            lb = table[r]
            if lb is not None and name in lb:
                out.add(lb[name])
        return sorted(out)

    def items(self) -> Iterable[tuple[int, Mapping[str, str]]]:
        for ref, lb in enumerate(self._labels):
            if lb is not None:
                yield ref, lb
