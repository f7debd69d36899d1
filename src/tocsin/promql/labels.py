"""Column-wise label sets, so that grouping and matching over many series are
array operations instead of Python loops per series.

A `LabelTable` holds the label sets of N series. Each label name is a column:
an int32 code per series indexing a list of distinct values, where code 0 is
always the empty string, which PromQL treats as "label absent".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

NAME = "__name__"

Codes = npt.NDArray[np.int32]
Column = tuple[Codes, list[str]]


def _factorize(values: Sequence[str]) -> Column:
    lookup: dict[str, int] = {"": 0}
    table: list[str] = [""]
    codes = np.empty(len(values), dtype=np.int32)
    for i, v in enumerate(values):
        c = lookup.get(v)
        if c is None:
            c = lookup[v] = len(table)
            table.append(v)
        codes[i] = c
    return codes, table


def format_labels(labels: Mapping[str, str]) -> str:
    """A label set as Prometheus prints it: {a="1", b="2"}, sorted by name."""
    inner = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(labels.items()))
    return "{" + inner + "}"


class LabelTable:
    """The label sets of `n` series, stored as one coded column per label name."""

    __slots__ = ("cols", "n")

    def __init__(self, n: int, cols: dict[str, Column] | None = None) -> None:
        self.n = n
        self.cols: dict[str, Column] = cols if cols is not None else {}

    # construction -----------------------------------------------------------
    @classmethod
    def from_dicts(cls, rows: Sequence[Mapping[str, str]]) -> LabelTable:
        names: dict[str, None] = {}
        for r in rows:
            for k in r:
                names[k] = None
        cols = {name: _factorize([r.get(name, "") for r in rows]) for name in names}
        return cls(len(rows), cols)

    @classmethod
    def empty(cls, n: int = 0) -> LabelTable:
        return cls(n, {})

    # access -----------------------------------------------------------------
    def row(self, i: int) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, (codes, values) in self.cols.items():
            c = codes[i]
            if c:
                out[name] = values[c]
        return out

    def rows(self) -> list[dict[str, str]]:
        out: list[dict[str, str]] = [{} for _ in range(self.n)]
        for name, (codes, values) in self.cols.items():
            for i in np.flatnonzero(codes):
                out[i][name] = values[codes[i]]
        return out

    def value_strings(self, name: str) -> list[str]:
        col = self.cols.get(name)
        if col is None:
            return [""] * self.n
        codes, values = col
        return [values[c] for c in codes.tolist()]

    def names(self) -> list[str]:
        return list(self.cols)

    # transformation ---------------------------------------------------------
    def take(self, idx: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> LabelTable:
        cols = {name: (codes[idx], values) for name, (codes, values) in self.cols.items()}
        n = int(idx.sum()) if idx.dtype == np.bool_ else len(idx)
        return LabelTable(n, cols)

    def drop(self, names: Iterable[str]) -> LabelTable:
        skip = set(names)
        return LabelTable(self.n, {k: v for k, v in self.cols.items() if k not in skip})

    def keep(self, names: Iterable[str]) -> LabelTable:
        want = set(names)
        return LabelTable(self.n, {k: v for k, v in self.cols.items() if k in want})

    def with_column(self, name: str, values: Sequence[str]) -> LabelTable:
        cols = dict(self.cols)
        codes, table = _factorize(values)
        if codes.any():
            cols[name] = (codes, table)
        else:
            cols.pop(name, None)
        return LabelTable(self.n, cols)

    def with_column_codes(self, name: str, column: Column) -> LabelTable:
        cols = dict(self.cols)
        cols[name] = column
        return LabelTable(self.n, cols)

    def drop_name_where(self, mask: npt.NDArray[np.bool_]) -> LabelTable:
        """Remove `__name__` from the rows where `mask` is set."""
        col = self.cols.get(NAME)
        if col is None or not mask.any():
            return self
        codes, values = col
        return self.with_column_codes(NAME, (np.where(mask, 0, codes).astype(np.int32), values))

    @staticmethod
    def concat(tables: Sequence[LabelTable]) -> LabelTable:
        if len(tables) == 1:
            return tables[0]
        names: dict[str, None] = {}
        for t in tables:
            for k in t.cols:
                names[k] = None
        n = sum(t.n for t in tables)
        cols: dict[str, Column] = {}
        for name in names:
            lookup: dict[str, int] = {"": 0}
            merged: list[str] = [""]
            parts: list[Codes] = []
            for t in tables:
                col = t.cols.get(name)
                if col is None:
                    parts.append(np.zeros(t.n, dtype=np.int32))
                    continue
                codes, values = col
                remap = np.empty(len(values), dtype=np.int32)
                for j, v in enumerate(values):
                    c = lookup.get(v)
                    if c is None:
                        c = lookup[v] = len(merged)
                        merged.append(v)
                    remap[j] = c
                parts.append(remap[codes])
            cols[name] = (np.concatenate(parts) if parts else np.zeros(0, np.int32), merged)
        return LabelTable(n, cols)

    # grouping ---------------------------------------------------------------
    def group(
        self, names: Iterable[str] | None, *, without: bool = False
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Group rows by the given labels (or by all but them if `without`).

        Returns (inverse, first): the group id of each row and, for each group,
        the index of its first row. Group ids are dense, 0..G-1.
        """
        if names is None:
            chosen = list(self.cols)
        elif without:
            skip = set(names)
            chosen = [k for k in self.cols if k not in skip]
        else:
            chosen = [k for k in dict.fromkeys(names) if k in self.cols]
        if self.n == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        key = np.zeros(self.n, dtype=np.int64)
        span = 1
        for name in sorted(chosen):
            codes, values = self.cols[name]
            width = len(values)
            if span * width >= 2**62:
                _, key = np.unique(key, return_inverse=True)
                key = key.astype(np.int64)
                span = int(key.max()) + 1
            key = key * width + codes
            span *= width
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return inverse.reshape(-1).astype(np.intp), first.astype(np.intp)

    def signatures(self, rows: npt.NDArray[np.intp], names: Sequence[str]) -> list[tuple[str, ...]]:
        """Hashable label-value tuples of the given rows over `names`."""
        cols = [self.cols.get(n) for n in names]
        out = []
        for i in rows.tolist():
            out.append(tuple(c[1][c[0][i]] if c is not None else "" for c in cols))
        return out
