"""Target state as time series, so one rule language covers fleets and metrics.

After each sweep every target of the swept source gets a sample:

- `tocsin_target_up` 1 (up) or 0 (down, expected_off); no sample while
  unknown or flapping (a staleness marker ends the series at the change);
- `tocsin_target_flapping` 1 while flapping, `tocsin_target_expected_off` 1
  while down outside opening hours (both stale otherwise);
- `tocsin_target_latency_seconds` and `tocsin_target_<field>` for every
  extra numeric field the source maps.

Series refs are cached per target: a sweep of 100,000 targets is a few
array appends, not 100,000 label-set lookups. Per target the writer keeps a
slot: its labels as one tuple (the detector's own label tuple when it
offers one, `TargetStatus.label_tuple`), the last state written as one byte
and its series refs in one int64 array per series name: about 100 B instead
of two dicts and an object (about 750 B).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from typing import Protocol

import numpy as np

from tocsin.detect.labels import LabelInterner, LabelTuple, as_dict
from tocsin.detect.types import TargetState
from tocsin.tsdb.db import TSDB
from tocsin.tsdb.types import STALE_NAN

_UP = {TargetState.UP: 1.0, TargetState.DOWN: 0.0, TargetState.EXPECTED_OFF: 0.0}
_STATES: list[TargetState | None] = [None, *TargetState]
"""Last written state per code; code 0 is "nothing written yet"."""
_CODE = {s: i for i, s in enumerate(_STATES)}
_NO_REF = -1
# The writer sets these two labels itself; a target's own labels of the same
# name are overridden, so they do not count as a relabel either.
_OWN = ("target", "source")


class TargetLike(Protocol):
    """What this writer reads of a detector status."""

    @property
    def target_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def state(self) -> TargetState: ...
    @property
    def latency(self) -> float | None: ...
    @property
    def fields(self) -> Mapping[str, float]: ...


def _own_stripped(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in _OWN}


def _same_series(stored: LabelTuple, labels: Mapping[str, str]) -> bool:
    """Would `labels` give the target the same series as `stored` did?

    Another label order, or other values of the writer's own labels, do.
    """
    return _own_stripped(as_dict(stored)) == _own_stripped(labels)


class TargetSeriesWriter:
    def __init__(self, tsdb: TSDB) -> None:
        self.tsdb = tsdb
        self._slots: dict[str, dict[str, int]] = {}
        """source -> target id -> slot."""
        self._labels: list[LabelTuple | None] = []
        self._last = bytearray()
        self._refs: dict[str, array[int]] = {}
        """series name -> ref per slot (-1: not created yet)."""
        self._free: list[int] = []
        self._interner = LabelInterner()

    def __len__(self) -> int:
        """Targets the writer keeps series refs for."""
        return sum(len(by_id) for by_id in self._slots.values())

    def _new_slot(self, labels: LabelTuple) -> int:
        if self._free:
            slot = self._free.pop()
            self._labels[slot] = labels
            return slot
        slot = len(self._labels)
        self._labels.append(labels)
        self._last.append(0)
        for col in self._refs.values():
            col.append(_NO_REF)
        return slot

    def _release(self, slot: int) -> list[int]:
        """Clear a slot's refs and last state; returns the refs it had."""
        refs = []
        for col in self._refs.values():
            if col[slot] != _NO_REF:
                refs.append(col[slot])
                col[slot] = _NO_REF
        self._last[slot] = 0
        return refs

    def _slot(self, t: TargetLike, ended: list[int]) -> int:
        # A detector status hands out its own label tuple: keeping that very
        # object costs nothing, and `is` answers "unchanged" without a dict.
        given: LabelTuple | None = getattr(t, "label_tuple", None)
        by_id = self._slots.get(t.source)
        if by_id is None:
            by_id = self._slots[t.source] = {}
        slot = by_id.get(t.target_id)
        if slot is not None:
            stored = self._labels[slot]
            assert stored is not None
            if given is not None and stored is given:
                return slot
            labels = t.labels
            if tuple(labels.values()) == stored[1:] and tuple(labels) == stored[0]:
                if given is not None:
                    self._labels[slot] = given
                return slot
            if not _same_series(stored, labels):  # relabelled: the old series end here
                ended.extend(self._release(slot))
        else:
            labels = t.labels
        tup = given if given is not None else self._interner.intern(labels)
        if slot is None:
            slot = by_id[t.target_id] = self._new_slot(tup)
        else:
            self._labels[slot] = tup
        return slot

    def _col(self, name: str) -> array[int]:
        col = self._refs.get(name)
        if col is None:
            col = self._refs[name] = array("q", [_NO_REF]) * len(self._labels)
        return col

    def _ref(self, slot: int, t: TargetLike, name: str) -> int:
        col = self._col(name)
        ref = col[slot]
        if ref == _NO_REF:
            stored = self._labels[slot]
            assert stored is not None
            labels = {
                "__name__": name,
                **as_dict(stored),
                "target": t.target_id,
                "source": t.source,
            }
            ref = col[slot] = int(self.tsdb.refs([labels])[0])
        return ref

    def write(self, targets: Iterable[TargetLike], t_ms: int) -> int:
        """Append one round of samples; returns how many the tsdb kept."""
        # Raw arrays, not lists: in a cold sweep, lists would hold 300,000
        # fresh int refs (and two growing pointer blocks), freed only after
        # the series this same loop creates for good; the holes they leave
        # pin the allocator's pools (RSS that never comes back). A values
        # list alone measured about 50 B per zone more RSS.
        refs = array("q")
        values = array("d")
        ended: list[int] = []
        last_codes = self._last
        for t in targets:
            slot = self._slot(t, ended)
            state, last = t.state, _STATES[last_codes[slot]]
            for name, on in (
                ("tocsin_target_up", state in _UP),
                ("tocsin_target_flapping", state is TargetState.FLAPPING),
                ("tocsin_target_expected_off", state is TargetState.EXPECTED_OFF),
            ):
                if on:
                    refs.append(self._ref(slot, t, name))
                    values.append(_UP[state] if name == "tocsin_target_up" else 1.0)
                elif last is not None and last is not state:
                    col = self._refs.get(name)
                    if col is not None and col[slot] != _NO_REF:
                        refs.append(col[slot])  # the series ends here
                        values.append(STALE_NAN)
            if t.latency is not None:
                refs.append(self._ref(slot, t, "tocsin_target_latency_seconds"))
                values.append(t.latency)
            for field, value in t.fields.items():
                refs.append(self._ref(slot, t, f"tocsin_target_{field}"))
                values.append(value)
            last_codes[slot] = _CODE[state]
        refs.extend(ended)
        values.extend([STALE_NAN] * len(ended))
        if not refs:
            return 0
        return self.tsdb.append_refs(
            np.frombuffer(refs, dtype=np.int64), t_ms, np.frombuffer(values, dtype=np.float64)
        )

    def forget(self, source: str, target_id: str, t_ms: int) -> int:
        """End every series of a target that is gone (staleness markers at
        `t_ms`, so rules stop seeing it at once, not after the lookback)."""
        slot = self._slots.get(source, {}).pop(target_id, None)
        if slot is None:
            return 0
        gone = self._release(slot)
        self._labels[slot] = None
        self._free.append(slot)
        if not gone:
            return 0
        refs = np.asarray(gone, dtype=np.int64)
        return self.tsdb.append_refs(refs, t_ms, np.full(len(refs), STALE_NAN))
