"""Turn one vendor item (a JSON object) into an Observation, fast.

Expressions are compiled once (see jpath). An item that cannot be mapped
becomes an Observation with up=None and the reason: unknown, never down.

The ETag cache keeps every mapped observation of a fleet between sweeps, so
the mapper builds them compact from the start: labels and fields are
`TupleMap`s over shared name tuples (never a dict per item), label values
and numbers that repeat across items are shared, and so are whole field maps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tocsin.detect.labels import LabelInterner, LabelMap, SharedValues, TupleMap
from tocsin.sources.config import MappingConfig
from tocsin.sources.jpath import Getter, compile_expression
from tocsin.sources.types import Observation

UNIDENTIFIED = ""  # target_id of an item whose id could not be read


class MappingError(ValueError):
    pass


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    raise MappingError(f"{what} is {type(value).__name__} {value!r}, not a number")


class ItemMapper:
    def __init__(self, cfg: MappingConfig, static_labels: Mapping[str, str]) -> None:
        self.cfg = cfg
        self._id = compile_expression(cfg.id)
        self._up = compile_expression(cfg.up)
        self._unknown_if = (
            compile_expression(cfg.unknown_if) if cfg.unknown_if is not None else None
        )
        # Static labels from the config win over mapped ones of the same name.
        self._labels: list[tuple[str, Getter]] = [
            (name, compile_expression(expr))
            for name, expr in cfg.labels.items()
            if name not in static_labels
        ]
        self._interner = LabelInterner()
        self._static_values = list(static_labels.values())
        self._names = (*static_labels, *(name for name, _ in self._labels))
        self._static = self._interner.labels(tuple(static_labels), self._static_values)
        self._latency = (
            compile_expression(cfg.latency_seconds) if cfg.latency_seconds is not None else None
        )
        self._scale = cfg.latency_scale
        self._fields: list[tuple[str, Getter]] = [
            (name, compile_expression(expr)) for name, expr in cfg.fields.items()
        ]
        self._field_names = tuple(cfg.fields)
        self._field_maps: SharedValues[tuple[object, ...], TupleMap[float]] = SharedValues()
        self._numbers: SharedValues[float, float] = SharedValues()
        self._no_fields: TupleMap[float] = TupleMap(((),))
        self._last_seen = compile_expression(cfg.last_seen) if cfg.last_seen else None

    def newest_seen(self, items: list[Any]) -> float | None:
        """Latest `last_seen` among the items as Unix seconds (None if none usable).

        Accepts numbers (Unix seconds) and ISO-8601 strings; fleets repeat the
        same timestamps a lot, so each distinct string is parsed once.
        """
        get = self._last_seen
        if get is None:
            return None
        parsed: dict[str, float | None] = {}
        newest: float | None = None
        for item in items:
            try:
                raw = get(item)
            except Exception:
                continue
            if isinstance(raw, str):
                if raw not in parsed:
                    parsed[raw] = _iso_seconds(raw)
                value = parsed[raw]
            elif isinstance(raw, int | float) and not isinstance(raw, bool):
                value = float(raw)
            else:
                continue
            if value is not None and (newest is None or value > newest):
                newest = value
        return newest

    def target_id(self, item: Any) -> str | None:
        try:
            raw = self._id(item)
        except Exception:
            return None
        if isinstance(raw, str) and raw:
            return raw
        if isinstance(raw, int) and not isinstance(raw, bool):
            return str(raw)
        return None

    def map(
        self,
        item: Any,
        at: float,
        *,
        force_id: str | None = None,
        like: Observation | None = None,
    ) -> Observation:
        """`like`: this item's observation from the page's previous version.
        Its id string and labels are reused when equal, so a page that changed
        does not leave the detector holding copies of what the cache now has."""
        tid = force_id if force_id is not None else self.target_id(item)
        if like is not None and like.target_id == tid:
            tid = like.target_id
        if tid is None:
            return Observation(
                UNIDENTIFIED,
                None,
                at,
                self._static,
                error=f"item has no usable id ({self.cfg.id!r}): {_preview(item)}",
            )
        if not isinstance(item, dict):
            return Observation(
                tid, None, at, self._static, error=f"item is {type(item).__name__}, not an object"
            )
        try:
            labels = self._labels_of(item, like.labels if like is not None else None)
        except Exception as exc:
            return Observation(tid, None, at, self._static, error=f"cannot map item: {exc}")
        try:
            return self._map(tid, item, at, labels)
        except Exception as exc:
            # Keep the labels: an unknown target should not lose its identity.
            return Observation(tid, None, at, labels, error=f"cannot map item: {exc}")

    def _labels_of(self, item: dict[str, Any], old: object = None) -> LabelMap:
        values: list[Any] = self._static_values.copy()
        for name, get in self._labels:
            value = get(item)
            if value is None or type(value) is str:
                pass
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, int | float):
                value = str(value)
            else:
                raise MappingError(f"label {name} is {type(value).__name__}, not a scalar")
            values.append(value)
        # A missing label is left out, not set to "".
        names, values = _present(self._names, values)
        labels = self._interner.intern_values(names, values)
        if type(old) is LabelMap and old.tuple == labels:
            return old
        return LabelMap(labels)

    def _fields_of(self, item: dict[str, Any]) -> TupleMap[float]:
        if not self._fields:
            return self._no_fields
        share = self._numbers.share
        values: list[Any] = []
        for name, get in self._fields:
            value = _number(get(item), f"field {name}")
            values.append(share(value) if value is not None else None)
        names, values = _present(self._field_names, values)
        # Many targets report the same numbers: one map serves all of them.
        key = (names, *values)
        shared = self._field_maps.get(key)
        return self._field_maps.add(key, TupleMap(key)) if shared is None else shared

    def _map(self, tid: str, item: dict[str, Any], at: float, labels: LabelMap) -> Observation:
        up = self._up(item)
        if self._unknown_if is not None and _truthy(self._unknown_if(item)):
            return Observation(
                tid, None, at, labels, error=f"unknown_if ({self.cfg.unknown_if!r}) holds"
            )
        if not isinstance(up, bool):
            raise MappingError(f"up ({self.cfg.up!r}) gave {up!r}, not true/false")
        latency = None
        if self._latency is not None:
            raw = _number(self._latency(item), "latency_seconds")
            latency = self._numbers.share(raw * self._scale) if raw is not None else None
        return Observation(tid, up, at, labels, latency, self._fields_of(item))


def _present(names: tuple[str, ...], values: list[Any]) -> tuple[tuple[str, ...], list[Any]]:
    """The names and values without the missing (None) ones."""
    if None not in values:
        return names, values
    kept = [(n, v) for n, v in zip(names, values, strict=True) if v is not None]
    return tuple(n for n, _ in kept), [v for _, v in kept]


def _iso_seconds(text: str) -> float | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _truthy(value: Any) -> bool:
    # JMESPath truthiness: empty string/list/object, false and null are false.
    return not (value is None or value is False or value == "" or value == [] or value == {})


def _preview(item: Any, limit: int = 120) -> str:
    text = repr(item)
    return text if len(text) <= limit else text[: limit - 3] + "..."
