"""A token bucket that spends a source's request budget (calls per minute)."""

from __future__ import annotations

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


class TokenBucket:
    """`per_minute` tokens refill evenly; at most `burst` can be saved up.

    `burst` defaults to one minute's budget, so a sweep may spend a whole
    minute's allowance at once and then has to wait for the refill. Tokens are
    reserved (the level may go negative): concurrent callers queue fairly, each
    waiting for its own share of the refill.
    """

    def __init__(self, per_minute: float, clock: Clock, *, burst: float | None = None) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be > 0, got {per_minute}")
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else per_minute)
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst}")
        self._clock = clock
        self._level = self.burst
        self._at = clock.now()

    def _refill(self) -> None:
        now = self._clock.now()
        if now > self._at:
            self._level = min(self.burst, self._level + (now - self._at) * self.rate)
        self._at = max(self._at, now)

    def available(self) -> float:
        """Tokens spendable right now (negative while callers are queued)."""
        self._refill()
        return self._level

    def reserve(self, max_wait: float = float("inf")) -> float | None:
        """Take one token. Returns how long to wait before using it, or None
        (nothing taken) if that wait would exceed `max_wait`."""
        self._refill()
        wait = 0.0 if self._level >= 1 else (1 - self._level) / self.rate
        if wait > max_wait:
            return None
        self._level -= 1
        return wait

    async def acquire(self, max_wait: float = float("inf")) -> None:
        """Take one token, sleeping on the clock until it is due."""
        wait = self.reserve(max_wait)
        if wait is None:
            self._refill()
            raise BudgetExhausted((1 - self._level) / self.rate, max_wait)
        if wait > 0:
            await self._clock.sleep(wait)
