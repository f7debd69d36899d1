"""The simulated vendor's request budget, answering with Retry-After."""

from __future__ import annotations

import math

from tocsin.clock import Clock
from tocsin.ratelimit import TokenBucket


class RequestBudget:
    """`per_minute` requests per minute, with bursts up to `per_minute`.

    The bucket starts full and refills continuously; an empty bucket answers
    with the whole seconds until the next token (the Retry-After value).
    """

    def __init__(self, per_minute: int, clock: Clock) -> None:
        if per_minute < 1:
            raise ValueError(f"budget per minute must be >= 1, got {per_minute}")
        self._bucket = TokenBucket(per_minute / 60.0, clock, burst=per_minute)

    @property
    def tokens(self) -> float:
        """Tokens left now, fractions included."""
        return self._bucket.available()

    def take(self) -> int | None:
        """Spend one token; None if granted, else the Retry-After seconds (>= 1)."""
        if self._bucket.try_take():
            return None
        return max(1, math.ceil(self._bucket.wait_time()))
