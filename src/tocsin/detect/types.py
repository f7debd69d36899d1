"""Target states as detection decides them."""

from __future__ import annotations

from enum import Enum


class TargetState(str, Enum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"
    FLAPPING = "flapping"
    EXPECTED_OFF = "expected_off"
