"""The token bucket behind every rate limit in tocsin, on the injected clock.

Sources spend a vendor's request budget with it, notify spaces sends per
receiver, and the simulator plays a vendor that answers 429 when it is empty.
"""

from __future__ import annotations

from tocsin.clock import Clock


class TokenBucket:
    """`rate` tokens per second refill evenly; at most `burst` are saved up.

    The bucket starts full. `reserve` may take a token that has not refilled
    yet (the level goes negative), so concurrent callers queue fairly, each
    waiting for its own share of the refill; `try_take` only takes a token
    that is there now. A clock set backwards refills nothing.
    """

    def __init__(self, rate: float, clock: Clock, *, burst: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError(f"token bucket rate must be > 0 per second, got {rate}")
        if burst < 1:
            raise ValueError(f"token bucket burst must be >= 1, got {burst}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._level = self.burst
        self._at = clock.now()

    def _refill(self) -> None:
        now = self._clock.now()
        if now > self._at:
            self._level = min(self.burst, self._level + (now - self._at) * self.rate)
            self._at = now

    def available(self) -> float:
        """Tokens spendable right now (negative while reserved tokens are owed)."""
        self._refill()
        return self._level

    def wait_time(self) -> float:
        """Seconds until a whole token is there (0.0 when one is there now)."""
        self._refill()
        return 0.0 if self._level >= 1 else (1 - self._level) / self.rate

    def try_take(self) -> bool:
        """Take a token if one is there now."""
        if self.wait_time() > 0:
            return False
        self._level -= 1
        return True

    def reserve(self, max_wait: float = float("inf")) -> float | None:
        """Take one token now and say how long to wait before using it; None
        (nothing taken) if that wait would exceed `max_wait`."""
        wait = self.wait_time()
        if wait > max_wait:
            return None
        self._level -= 1
        return wait

    async def acquire(self, max_wait: float = float("inf")) -> bool:
        """Take one token, sleeping on the clock until it is due. False
        (nothing taken, no sleep) if it is more than `max_wait` away."""
        wait = self.reserve(max_wait)
        if wait is None:
            return False
        if wait > 0:
            try:
                await self._clock.sleep(wait)
            except BaseException:
                # A caller that gives up hands its reserved token back.
                self._refill()
                self._level = min(self.burst, self._level + 1)
                raise
        return True
