"""A source's request budget (calls per minute) on the shared token bucket."""

from __future__ import annotations

from tocsin import ratelimit
from tocsin.clock import Clock
from tocsin.errors import SourceError


class BudgetExhausted(SourceError):
    """Waiting for budget would take longer than the caller allows."""

    def __init__(self, wait: float, max_wait: float) -> None:
        super().__init__(
            f"request budget exhausted: next token in {wait:.1f}s, "
            f"more than the {max_wait:g}s allowed",
            retryable=True,
        )
        self.wait = wait


class TokenBucket(ratelimit.TokenBucket):
    """`per_minute` calls a minute; `burst` defaults to one minute's budget, so
    a sweep may spend a whole minute's allowance at once and then waits for
    the refill."""

    def __init__(self, per_minute: float, clock: Clock, *, burst: float | None = None) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be > 0, got {per_minute}")
        super().__init__(per_minute / 60.0, clock, burst=per_minute if burst is None else burst)
        self.per_minute = per_minute

    async def acquire(self, max_wait: float = float("inf")) -> bool:
        """Take one token, sleeping on the clock until it is due; raises
        BudgetExhausted (retryable) if it is more than `max_wait` away."""
        if not await super().acquire(max_wait):
            raise BudgetExhausted(self.wait_time(), max_wait)
        return True
