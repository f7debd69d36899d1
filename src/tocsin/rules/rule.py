"""What recording and alerting rules share: identity, health and timings."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

LabelKey = tuple[tuple[str, str], ...]
# One output sample of a rule: labels and value (the time is the group's).
OutSample = tuple[dict[str, str], float]


class Health(StrEnum):
    UNKNOWN = "unknown"
    GOOD = "ok"
    BAD = "err"


def label_key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


def apply_labels(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """`base` with `extra` set on top; an empty value removes the label (as Prometheus)."""
    out = dict(base)
    for k, v in extra.items():
        if v == "":
            out.pop(k, None)
        else:
            out[k] = v
    return out


class RuleStatus:
    """Health, last error and timings of a rule, shown by /api/v1/rules."""

    def __init__(self) -> None:
        self.health = Health.UNKNOWN
        self.last_error: str | None = None
        self.evaluation_seconds = 0.0
        self.last_evaluation: float | None = None  # wall-clock Unix seconds

    def ok(self) -> None:
        self.health = Health.GOOD
        self.last_error = None

    def fail(self, error: str) -> None:
        self.health = Health.BAD
        self.last_error = error
