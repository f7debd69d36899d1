"""Compact, shared label storage for very many targets.

A fleet's targets mostly share the same label names and many values (region,
time zone, importance, venue). Keeping each target's labels as a dict costs
hundreds of bytes; here a target keeps a shared tuple of names and a tuple of
values, with repeated values shared across targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

#: Labels of one target in one object, so a reader in another thread never
#: sees the names of one version with the values of another.
LabelTuple = tuple[object, ...]

# A label whose values rarely repeat (zone ids) gains nothing from sharing;
# stop remembering its new values once the table is this large and misses
# outnumber hits.
_MIN_TABLE = 1024


class LabelInterner:
    """Turns label mappings into (names, values) tuples with shared members."""

    __slots__ = ("_names", "_stats", "_values")

    def __init__(self) -> None:
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._values: dict[str, dict[str, str]] = {}
        self._stats: dict[str, list[int]] = {}  # name -> [hits, misses]

    def intern(self, labels: Mapping[str, str]) -> LabelTuple:
        """`(names, value1, value2, ...)`: names shared, values shared where useful."""
        names = tuple(labels)
        shared_names = self._names.get(names)
        if shared_names is None:
            for name in names:
                _check(name, name)
                self._values[name] = {}
                self._stats[name] = [0, 0]
            shared_names = self._names.setdefault(names, names)
        tables = self._values
        values: list[object] = [shared_names]
        for name in shared_names:
            value = labels[name]
            table = tables[name]
            shared = table.get(value)
            if shared is None:
                _check(name, value)
                stats = self._stats[name]
                stats[1] += 1
                if len(table) < _MIN_TABLE or stats[0] >= stats[1]:
                    table[value] = value
                shared = value
            else:
                self._stats[name][0] += 1
            values.append(shared)
        return tuple(values)


def as_dict(labels: LabelTuple) -> dict[str, str]:
    """The label mapping a `(names, value1, value2, ...)` tuple stands for."""
    names = cast(tuple[str, ...], labels[0])
    return dict(zip(names, cast(tuple[str, ...], labels[1:]), strict=True))


def _check(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"label {name!r}: values must be strings, got {type(value).__name__}")
