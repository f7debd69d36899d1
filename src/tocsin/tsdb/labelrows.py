"""Label sets of a selection in the PromQL engine's columnar form.

`select_instant` hands the engine a `LabelTable` it can use as is, instead of
100,000 dicts it would have to factorise on every rule evaluation. The table
per matcher set is cached and, when new series appear, extended rather than
rebuilt. `LabelRows` is also a read-only sequence of label dicts, so callers
that do not know about tables can iterate it like a list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from tocsin.promql.labels import LabelTable


class LabelRows(LabelTable):
    """A LabelTable that also reads as a sequence of label dicts."""

    __slots__ = ()

    @classmethod
    def of(cls, table: LabelTable) -> LabelRows:
        return cls(table.n, table.cols)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, str]:
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return self.row(i % self.n)

    def __iter__(self) -> Iterator[dict[str, str]]:
        return iter(self.rows())

    def take(self, idx: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> LabelRows:
        return LabelRows.of(LabelTable.take(self, idx))


class TableCache:
    """Per matcher set: the refs a table was built for, and the table."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: dict[object, tuple[npt.NDArray[np.int64], LabelTable]] = {}
        self._max = max_entries

    def get(
        self,
        key: object,
        refs: npt.NDArray[np.int64],
        table_of: Callable[[npt.NDArray[np.int64]], LabelTable],
    ) -> LabelTable:
        hit = self._entries.get(key)
        if hit is not None:
            old_refs, table = hit
            if old_refs is refs:
                return table
            k = len(old_refs)
            if len(refs) >= k and np.array_equal(refs[:k], old_refs):
                # Refs only grow, so new series usually just extend the selection.
                if len(refs) > k:
                    extra = table_of(refs[k:])
                    table = LabelTable.concat([table, extra])
                self._entries[key] = (refs, table)
                return table
        table = table_of(refs)
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (refs, table)
        return table

    def clear(self) -> None:
        self._entries.clear()
