"""Target state as time series, so one rule language covers fleets and metrics.

After each sweep every target of the swept source gets a sample:

- `tocsin_target_up` 1 (up) or 0 (down, expected_off); no sample while
  unknown or flapping (a staleness marker ends the series at the change);
- `tocsin_target_flapping` 1 while flapping, `tocsin_target_expected_off` 1
  while down outside opening hours (both stale otherwise);
- `tocsin_target_latency_seconds` and `tocsin_target_<field>` for every
  extra numeric field the source maps.

Series refs are cached per target: a sweep of 100,000 targets is a few
array appends, not 100,000 label-set lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tocsin.detect.types import TargetState
from tocsin.tsdb.db import TSDB
from tocsin.tsdb.types import STALE_NAN

_UP = {TargetState.UP: 1.0, TargetState.DOWN: 0.0, TargetState.EXPECTED_OFF: 0.0}


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


@dataclass(slots=True)
class _Target:
    # The series' labels without `__name__`; also what relabelling is checked
    # against, so a target keeps one label dict here, not two.
    base: dict[str, str]
    refs: dict[str, int]
    last: TargetState | None = None


def _base(t: TargetLike, labels: Mapping[str, str]) -> dict[str, str]:
    return {**labels, "target": t.target_id, "source": t.source}


def _unchanged(base: dict[str, str], t: TargetLike, labels: Mapping[str, str]) -> bool:
    extra = ("target" not in labels) + ("source" not in labels)
    return (
        len(base) == len(labels) + extra
        and base.get("target") == t.target_id
        and base.get("source") == t.source
        and all(base.get(k) == v for k, v in labels.items() if k not in ("target", "source"))
    )


class TargetSeriesWriter:
    def __init__(self, tsdb: TSDB) -> None:
        self.tsdb = tsdb
        self._targets: dict[tuple[str, str], _Target] = {}

    def _entry(self, t: TargetLike, ended: list[int]) -> _Target:
        key = (t.source, t.target_id)
        labels = t.labels
        hit = self._targets.get(key)
        if hit is not None and _unchanged(hit.base, t, labels):
            return hit
        if hit is not None:  # relabelled: the old series end here
            ended.extend(hit.refs.values())
        entry = _Target(_base(t, labels), {})
        self._targets[key] = entry
        return entry

    def _ref(self, e: _Target, name: str) -> int:
        ref = e.refs.get(name)
        if ref is None:
            ref = int(self.tsdb.refs([{"__name__": name, **e.base}])[0])
            e.refs[name] = ref
        return ref

    def write(self, targets: Iterable[TargetLike], t_ms: int) -> int:
        """Append one round of samples; returns how many the tsdb kept."""
        refs: list[int] = []
        values: list[float] = []
        ended: list[int] = []
        for t in targets:
            e = self._entry(t, ended)
            state, last = t.state, e.last
            for name, on in (
                ("tocsin_target_up", state in _UP),
                ("tocsin_target_flapping", state is TargetState.FLAPPING),
                ("tocsin_target_expected_off", state is TargetState.EXPECTED_OFF),
            ):
                if on:
                    refs.append(self._ref(e, name))
                    values.append(_UP[state] if name == "tocsin_target_up" else 1.0)
                elif name in e.refs and last is not None and last is not state:
                    refs.append(e.refs[name])  # the series ends here
                    values.append(STALE_NAN)
            if t.latency is not None:
                refs.append(self._ref(e, "tocsin_target_latency_seconds"))
                values.append(t.latency)
            for field, value in t.fields.items():
                refs.append(self._ref(e, f"tocsin_target_{field}"))
                values.append(value)
            e.last = state
        refs.extend(ended)
        values.extend([STALE_NAN] * len(ended))
        if not refs:
            return 0
        return self.tsdb.append_refs(
            np.asarray(refs, dtype=np.int64), t_ms, np.asarray(values, dtype=np.float64)
        )

    def forget(self, source: str, target_id: str, t_ms: int) -> int:
        """End every series of a target that is gone (staleness markers at
        `t_ms`, so rules stop seeing it at once, not after the lookback)."""
        entry = self._targets.pop((source, target_id), None)
        if entry is None or not entry.refs:
            return 0
        refs = np.fromiter(entry.refs.values(), dtype=np.int64, count=len(entry.refs))
        return self.tsdb.append_refs(refs, t_ms, np.full(len(refs), STALE_NAN))
