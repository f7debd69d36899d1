"""Exponential backoff with proportional jitter; randomness is injected."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry number `attempt` (0 = first retry).

    The base delay is `initial * multiplier**attempt`, capped at `max`; jitter
    then moves it by up to +/- `jitter` of itself (0.2 = 20 %) so that many
    pollers failing together do not retry in lockstep. The result never
    exceeds `max` and is never negative.
    """

    initial: float = 1.0
    max: float = 300.0
    multiplier: float = 2.0
    jitter: float = 0.2
    random: Callable[[], float] = field(default=random.random, compare=False)

    def base(self, attempt: int) -> float:
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        try:
            raw = self.initial * self.multiplier**attempt
        except OverflowError:
            return self.max
        return min(self.max, raw)

    def delay(self, attempt: int) -> float:
        base = self.base(attempt)
        spread = base * self.jitter * (2.0 * self.random() - 1.0)
        return min(self.max, max(0.0, base + spread))
