"""Plain data shared by the tsdb, the PromQL engine and the rule engine."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Protocol

import numpy as np
import numpy.typing as npt

# Staleness marker: the special NaN bit pattern Prometheus uses.
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = float(np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)[0])


def is_stale(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Element-wise: is this value the staleness marker?"""
    return values.view(np.uint64) == STALE_NAN_BITS


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class LabelMatcher:
    """One label matcher. Regexes are fully anchored, as in Prometheus."""

    name: str
    op: MatchOp
    value: str

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(f"(?:{self.value})\\Z", re.DOTALL)

    def matches(self, value: str) -> bool:
        if self.op is MatchOp.EQ:
            return value == self.value
        if self.op is MatchOp.NE:
            return value != self.value
        hit = self._regex.match(value) is not None
        return hit if self.op is MatchOp.RE else not hit


Labels = Mapping[str, str]


@dataclass(slots=True)
class SeriesData:
    """Samples of one series in [mint, maxt]: timestamps in ms, float values."""

    labels: Labels
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


class Queryable(Protocol):
    """What the PromQL engine reads from. Implemented by the tsdb."""

    def select(
        self, matchers: Sequence[LabelMatcher], mint_ms: int, maxt_ms: int
    ) -> Iterable[SeriesData]: ...

    def label_names(self, matchers: Sequence[LabelMatcher] = ()) -> list[str]: ...

    def label_values(self, name: str, matchers: Sequence[LabelMatcher] = ()) -> list[str]: ...


class Appender(Protocol):
    """What producers (detector, scraper, recording rules) write to."""

    def append(self, labels: Labels, t_ms: int, value: float) -> None: ...


@dataclass(frozen=True, slots=True)
class SelectHints:
    """Optional context for `select`, as Prometheus's storage.SelectHints.

    A store may use it to answer from downsampled rollups: `range_ms == 0`
    means an instant vector selector evaluated at `start_ms`, `start_ms +
    step_ms`, ... up to `end_ms`; otherwise a range selector `[range_ms]`
    wrapped in `func` (e.g. "max_over_time"). Results must stay exact.
    """

    start_ms: int
    end_ms: int
    step_ms: int = 0
    range_ms: int = 0
    func: str | None = None
