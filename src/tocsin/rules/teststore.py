"""An in-memory store for rule unit tests, cheap to append to between queries.

A rule test evaluates every group at every interval and appends the results,
then queries again. MemStore rebuilds all its arrays after any append; this
store keeps arrays per series and rebuilds only the series that changed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from tocsin.errors import UnsupportedFeature
from tocsin.tsdb.types import LabelMatcher, SeriesData


class _Series:
    __slots__ = ("arrays", "labels", "ts", "vals")

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.ts: list[int] = []
        self.vals: list[float] = []
        self.arrays: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None

    def data(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        if self.arrays is None:
            t = np.asarray(self.ts, dtype=np.int64)
            v = np.asarray(self.vals, dtype=np.float64)
            if len(t) > 1 and not (np.diff(t) > 0).all():
                order = np.argsort(t, kind="stable")
                t, v = t[order], v[order]
                last = np.append(t[1:] != t[:-1], True)  # the last write wins
                t, v = t[last], v[last]
            self.arrays = (t, v)
        return self.arrays


class RuleTestStore:
    """Queryable and Appender for `tocsin test rules`."""

    def __init__(self) -> None:
        self._series: dict[tuple[tuple[str, str], ...], _Series] = {}
        self._unsupported: list[tuple[dict[str, str], str]] = []
        self._match_cache: dict[tuple[LabelMatcher, ...], list[_Series]] = {}

    def append(self, labels: Mapping[str, str], t_ms: int, value: float) -> None:
        key = tuple(sorted((k, v) for k, v in labels.items() if v != ""))
        s = self._series.get(key)
        if s is None:
            s = self._series[key] = _Series(dict(key))
            self._match_cache.clear()
        s.ts.append(int(t_ms))
        s.vals.append(float(value))
        s.arrays = None

    def add_unsupported(self, labels: Mapping[str, str], reason: str) -> None:
        self._unsupported.append((dict(labels), reason))

    def _match(self, matchers: Sequence[LabelMatcher]) -> list[_Series]:
        for labels, reason in self._unsupported:
            if all(m.matches(labels.get(m.name, "")) for m in matchers):
                raise UnsupportedFeature(reason)
        key = tuple(matchers)
        hit = self._match_cache.get(key)
        if hit is None:
            hit = self._match_cache[key] = [
                s
                for s in self._series.values()
                if all(m.matches(s.labels.get(m.name, "")) for m in matchers)
            ]
        return hit

    def select(
        self, matchers: Sequence[LabelMatcher], mint_ms: int, maxt_ms: int
    ) -> Iterator[SeriesData]:
        for s in self._match(matchers):
            ts, vals = s.data()
            lo, hi = np.searchsorted(ts, [mint_ms, maxt_ms + 1])
            if hi > lo:
                yield SeriesData(s.labels, ts[lo:hi], vals[lo:hi])

    def label_names(self, matchers: Sequence[LabelMatcher] = ()) -> list[str]:
        return sorted({k for s in self._match(matchers) for k in s.labels})

    def label_values(self, name: str, matchers: Sequence[LabelMatcher] = ()) -> list[str]:
        return sorted({s.labels[name] for s in self._match(matchers) if name in s.labels})
