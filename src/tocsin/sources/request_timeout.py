"""Per-request timeout that surfaces as a retryable SourceError."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from tocsin.errors import SourceError

T = TypeVar("T")


class RequestTimeout(SourceError):
    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what}: timed out after {seconds:g}s", retryable=True)
        self.seconds = seconds


async def within(seconds: float, aw: Awaitable[T], what: str) -> T:
    """Await `aw` (connect, send, read the whole body) for at most `seconds`.

    This bounds real network I/O, so it uses the event loop's time rather
    than the injected Clock: a virtual clock cannot make a socket slow.
    """
    try:
        async with asyncio.timeout(seconds):
            return await aw
    except TimeoutError:
        raise RequestTimeout(what, seconds) from None
