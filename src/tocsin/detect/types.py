"""Target states as detection decides them."""

from __future__ import annotations

from enum import StrEnum


class TargetState(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"
    FLAPPING = "flapping"
    EXPECTED_OFF = "expected_off"


class SourceState(StrEnum):
    """Detection's view of a source as a whole (not its circuit breaker)."""

    OK = "ok"
    DEGRADED = "source_degraded"
    MASS_CHANGE = "mass_change"
