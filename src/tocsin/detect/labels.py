"""Compact, shared label storage for very many targets.

A fleet's targets mostly share the same label names and many values (region,
time zone, importance, venue). Keeping each target's labels as a dict costs
hundreds of bytes; here a target keeps a shared tuple of names and a tuple of
values, with repeated values shared across targets. `TupleMap` shows such a
tuple as a read-only Mapping, so a source can hand labels (and numeric fields)
on in this form without ever building a dict.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

#: Labels of one target in one object, so a reader in another thread never
#: sees the names of one version with the values of another.
LabelTuple = tuple[object, ...]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# A label whose values rarely repeat (zone ids) gains nothing from sharing;
# stop remembering its new values once the table is this large and misses
# outnumber hits.
_MIN_TABLE = 1024


class SharedValues(Generic[K, V]):
    """One shared object per distinct key, remembered only while sharing pays."""

    __slots__ = ("_hits", "_misses", "_table")

    def __init__(self) -> None:
        self._table: dict[K, V] = {}
        self._hits = 0
        self._misses = 0

    def get(self, key: K) -> V | None:
        """The shared object for `key`, or None (then `add` one)."""
        shared = self._table.get(key)
        if shared is None:
            self._misses += 1
        else:
            self._hits += 1
        return shared

    def add(self, key: K, value: V) -> V:
        if len(self._table) < _MIN_TABLE or self._hits >= self._misses:
            self._table[key] = value
        return value

    def share(self: SharedValues[K, K], value: K) -> K:
        """`value`, or an equal one seen before."""
        shared = self.get(value)
        return self.add(value, value) if shared is None else shared


class LabelInterner:
    """Turns label mappings into (names, values) tuples with shared members."""

    __slots__ = ("_names", "_values")

    def __init__(self) -> None:
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._values: dict[str, SharedValues[str, str]] = {}

    def intern(self, labels: Mapping[str, str]) -> LabelTuple:
        """`(names, value1, value2, ...)`: names shared, values shared where useful.

        A `LabelMap`'s tuple is already that (checked and shared by another
        interner), so it is taken as is: the detector then keeps the very
        tuple a source's cache holds instead of a copy.
        """
        if type(labels) is LabelMap:
            return labels.tuple
        return self.intern_values(tuple(labels), list(labels.values()))

    def labels(self, names: tuple[str, ...], values: Sequence[str]) -> LabelMap:
        """`intern_values` as a read-only Mapping."""
        return LabelMap(self.intern_values(names, values))

    def intern_values(self, names: tuple[str, ...], values: Sequence[str]) -> LabelTuple:
        """As `intern`, from the names and their values in the same order."""
        shared_names = self._names.get(names)
        if shared_names is None:
            for name in names:
                _check(name, name)
                self._values.setdefault(name, SharedValues())
            shared_names = self._names.setdefault(names, names)
        tables = self._values
        out: list[object] = [shared_names]
        for name, value in zip(shared_names, values, strict=True):
            if type(value) is not str:
                _check(name, value)
            out.append(tables[name].share(value))
        return tuple(out)


class TupleMap(Mapping[str, V]):
    """A read-only mapping over a `(names, value1, value2, ...)` tuple.

    About 48 bytes on top of the tuple, against about 200 for a small dict;
    `tuple` is what `LabelInterner` and `as_dict` take.
    """

    __slots__ = ("tuple",)

    def __init__(self, pairs: LabelTuple) -> None:
        # Typed loosely on purpose: the methods below run for every target of
        # every sweep, and `cast` is a function call.
        self.tuple: tuple[Any, ...] = pairs

    @classmethod
    def of(cls, mapping: Mapping[str, V]) -> TupleMap[V]:
        return cls((tuple(mapping), *mapping.values()))

    @property
    def names(self) -> tuple[str, ...]:
        return self.tuple[0]

    def __getitem__(self, key: str) -> V:
        t = self.tuple
        try:
            return t[t[0].index(key) + 1]
        except ValueError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self.tuple[0]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tuple[0])

    def __len__(self) -> int:
        return len(self.tuple) - 1

    # The detector compares `tuple(labels.values())` and the series writer
    # reads `fields.items()` for every target of every sweep: a tuple is much
    # cheaper than a view that looks each key up again.
    def values(self) -> tuple[V, ...]:  # type: ignore[override]
        return self.tuple[1:]

    def items(self) -> tuple[tuple[str, V], ...]:  # type: ignore[override]
        t = self.tuple
        return tuple(zip(t[0], t[1:]))  # noqa: B905 -- one name per value by construction

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TupleMap) and self.tuple == other.tuple:
            return True
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class LabelMap(TupleMap[str]):
    """Labels made by a `LabelInterner`: string values, names and values shared."""

    __slots__ = ()


def as_dict(labels: LabelTuple) -> dict[str, str]:
    """The label mapping a `(names, value1, value2, ...)` tuple stands for."""
    names = cast(tuple[str, ...], labels[0])
    return dict(zip(names, cast(tuple[str, ...], labels[1:]), strict=True))


def _check(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"label {name!r}: values must be strings, got {type(value).__name__}")
