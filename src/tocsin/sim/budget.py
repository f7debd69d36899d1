"""The simulated vendor's request budget: a token bucket on the injected clock."""

from __future__ import annotations

import math


class RequestBudget:
    """`per_minute` requests per minute, with bursts up to `per_minute`.

    The bucket starts full and refills continuously; an empty bucket answers
    with the whole seconds until the next token (the Retry-After value).
    """

    def __init__(self, per_minute: int, now: float) -> None:
        if per_minute < 1:
            raise ValueError(f"budget per minute must be >= 1, got {per_minute}")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.tokens = self.capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, now: float) -> int | None:
        """Spend one token; None if granted, else the Retry-After seconds (>= 1)."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self.tokens) / self.rate))
