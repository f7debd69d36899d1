"""The one place that decides whether a failed request is worth retrying,
and the loop that retries it.

Retryable: 5xx, 429 (after Retry-After), timeouts, connection errors,
truncated bodies, malformed JSON (vendors glitch). Not retryable: other 4xx
(401, 403, 404: trying again will not help) and anything unexpected.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

from tocsin.clock import Clock
from tocsin.errors import SourceError
from tocsin.sources.backoff import Backoff

T = TypeVar("T")


class HttpStatusError(SourceError):
    def __init__(self, status: int, what: str, *, retryable: bool) -> None:
        super().__init__(f"{what}: HTTP {status}", retryable=retryable)
        self.status = status


class RateLimited(HttpStatusError):
    """HTTP 429. `retry_after` is the server's wish in seconds, if it said one."""

    def __init__(self, what: str, retry_after: float | None) -> None:
        super().__init__(429, what, retryable=True)
        self.retry_after = retry_after
        if retry_after is not None:
            self.args = (f"{what}: HTTP 429, retry after {retry_after:g}s",)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as delta-seconds or an HTTP date; None if absent or garbage."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def error_for_status(
    status: int, what: str, retry_after: str | None = None, now: float = 0.0
) -> SourceError | None:
    """None for success (2xx, and 304 which callers handle); else the error."""
    if 200 <= status < 300 or status == 304:
        return None
    if status == 429:
        return RateLimited(what, parse_retry_after(retry_after, now))
    if status >= 500:
        return HttpStatusError(status, what, retryable=True)
    return HttpStatusError(status, what, retryable=False)


def error_for_exception(exc: BaseException, what: str) -> SourceError:
    """Map whatever a request raised onto a SourceError with the right retryability."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return SourceError(f"{what}: timed out", retryable=True)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return SourceError(f"{what}: truncated response body ({exc})", retryable=True)
    if isinstance(exc, aiohttp.InvalidURL):
        return SourceError(f"{what}: invalid URL ({exc})", retryable=False)
    if isinstance(exc, aiohttp.ClientError | OSError):
        reason = str(exc) or type(exc).__name__
        return SourceError(f"{what}: connection failed ({reason})", retryable=True)
    if isinstance(exc, ValueError):  # JSON decoding (orjson.JSONDecodeError is one)
        return SourceError(f"{what}: malformed JSON ({exc})", retryable=True)
    return SourceError(f"{what}: {type(exc).__name__}: {exc}", retryable=False)


class Retrier:
    """Runs a request, retrying retryable failures with backoff.

    A 429 waits for the server's Retry-After instead of the backoff delay.
    A wait longer than `max_wait` is not taken: the error is raised so the
    sweep fails now rather than overrunning its interval.
    """

    def __init__(self, clock: Clock, backoff: Backoff, retries: int, max_wait: float) -> None:
        self._clock = clock
        self.backoff = backoff
        self.retries = retries
        self.max_wait = max_wait
        self.attempts = 0  # every try, first ones included: requests spent

    def delay_for(self, err: SourceError, attempt: int) -> float | None:
        """How long to wait before retry `attempt`, or None to give up."""
        if not err.retryable or attempt >= self.retries:
            return None
        if isinstance(err, RateLimited) and err.retry_after is not None:
            delay = err.retry_after
        else:
            delay = self.backoff.delay(attempt)
        return delay if delay <= self.max_wait else None

    async def run(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            self.attempts += 1
            try:
                return await call()
            except Exception as exc:
                err = error_for_exception(exc, what)
                delay = self.delay_for(err, attempt)
                if delay is None:
                    raise err from (None if err is exc else exc)
            attempt += 1
            await self._clock.sleep(delay)
