"""Values the evaluator passes around, and the query results it hands back.

Inside the engine every instant vector is evaluated at all steps of a query at
once: a `StepVector` is N series x S steps of float64 values plus a presence
mask (NaN is a legal sample value, so absence needs its own mask). An instant
query is simply S = 1. Range vectors (`RangeVector`) keep all samples of all
series in flat arrays with, per series and step, the [lo, hi) window of
samples that fall in (t - range, t].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from tocsin.promql.labels import LabelTable

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass
class StepVector:
    """An instant vector at every step: labels of N series, (N, S) values."""

    labels: LabelTable
    values: F64
    present: Bools
    # Rows whose __name__ must go once evaluation ends (delayed name removal).
    drop_name: Bools

    @property
    def n(self) -> int:
        return self.labels.n

    @classmethod
    def empty(cls, steps: int) -> StepVector:
        return cls(
            LabelTable.empty(0),
            np.zeros((0, steps)),
            np.zeros((0, steps), dtype=bool),
            np.zeros(0, dtype=bool),
        )

    def take(self, idx: npt.NDArray[np.intp] | Bools) -> StepVector:
        return StepVector(
            self.labels.take(idx), self.values[idx], self.present[idx], self.drop_name[idx]
        )

    def compact(self) -> StepVector:
        """Drop rows that are absent at every step."""
        keep: Bools = np.asarray(self.present.any(axis=1))
        if keep.all():
            return self
        return self.take(keep)


@dataclass
class Scalars:
    """A scalar at every step."""

    values: F64


@dataclass
class Str:
    value: str


@dataclass
class RangeVector:
    """Samples of N series in flat arrays; `off[i]:off[i+1]` belongs to series i.

    `lo`/`hi` (N, S) bound the samples of each step's window; `times` (S,) are
    the window ends in ms (step times after `@` and `offset`).
    """

    labels: LabelTable
    ts: I64
    vals: F64
    off: npt.NDArray[np.intp]
    lo: npt.NDArray[np.intp]
    hi: npt.NDArray[np.intp]
    times: I64
    range_ms: int
    drop_name: Bools

    @property
    def n(self) -> int:
        return self.labels.n


def format_value(v: float) -> str:
    """A float as Prometheus writes it in JSON (Go's FormatFloat 'f', -1)."""
    # Whole numbers (counts, 0/1 states) are the common case: answer them first.
    if v.is_integer() and abs(v) < 1e21:
        return str(int(v)) if v != 0 or math.copysign(1, v) > 0 else "-0"
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = format(Decimal(repr(v)), "f")
    return text


def format_time(t_ms: int) -> float | int:
    return t_ms // 1000 if t_ms % 1000 == 0 else t_ms / 1000


@dataclass
class Sample:
    labels: dict[str, str]
    value: float
    t_ms: int


@dataclass
class VectorResult:
    """An instant vector: `labels.n` series with one value each at `t_ms`."""

    labels: LabelTable
    values: F64
    t_ms: int
    result_type: str = field(default="vector", init=False)
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)

    @cached_property
    def samples(self) -> list[Sample]:
        return [
            Sample(lbl, float(v), self.t_ms)
            for lbl, v in zip(self.labels.rows(), self.values.tolist(), strict=True)
        ]

    def __len__(self) -> int:
        return self.labels.n

    def to_prometheus_json(self) -> dict[str, Any]:
        t = format_time(self.t_ms)
        # Straight from the columns: large answers (20,000 per-venue sums) are
        # common in dashboards, and Sample objects would only be thrown away.
        return {
            "resultType": "vector",
            "result": [
                {"metric": lbl, "value": [t, format_value(v)]}
                for lbl, v in zip(self.labels.rows(), self.values.tolist(), strict=True)
            ],
        }


@dataclass
class SeriesPoints:
    labels: dict[str, str]
    timestamps: I64
    values: F64


@dataclass
class MatrixResult:
    """A range-query result (or a range vector from an instant query)."""

    series: list[SeriesPoints]
    result_type: str = field(default="matrix", init=False)
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.series)

    def to_prometheus_json(self) -> dict[str, Any]:
        return {
            "resultType": "matrix",
            "result": [
                {
                    "metric": s.labels,
                    "values": [
                        [format_time(t), format_value(v)]
                        for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
                    ],
                }
                for s in self.series
            ],
        }


@dataclass
class ScalarResult:
    value: float
    t_ms: int
    result_type: str = field(default="scalar", init=False)
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)

    def to_prometheus_json(self) -> dict[str, Any]:
        return {
            "resultType": "scalar",
            "result": [format_time(self.t_ms), format_value(self.value)],
        }


@dataclass
class StringResult:
    value: str
    t_ms: int
    result_type: str = field(default="string", init=False)
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)

    def to_prometheus_json(self) -> dict[str, Any]:
        return {"resultType": "string", "result": [format_time(self.t_ms), self.value]}


QueryResult = VectorResult | MatrixResult | ScalarResult | StringResult
