"""The HTTP side of a source: one aiohttp session, its budget, limit and timeout.

aiohttp was chosen over httpx by bench/http_client.py (docs/bench/sources.md).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDictProxy

from tocsin.clock import Clock
from tocsin.errors import SourceError
from tocsin.sources.concurrency import ConcurrencyLimit
from tocsin.sources.request_timeout import within
from tocsin.sources.retry import error_for_exception
from tocsin.sources.token_bucket import TokenBucket

MAX_BODY = 64 * 1024 * 1024  # a page larger than this is refused, not buffered


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    next_link: str | None
    seconds: float  # time to the whole body, for latency


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, refusing (not buffering) more than `limit` bytes."""
    length = resp.content_length
    if length is not None and length > limit:
        raise SourceError(f"response of {length} bytes exceeds {limit}", retryable=False)
    if length is not None:
        return await resp.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise SourceError(f"response exceeds {limit} bytes", retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)


class HttpClient:
    """Sends one request at a time through the source's limits.

    Each attempt takes a budget token, a concurrency slot and runs under the
    per-request timeout. Failures come out as SourceError with retryability
    decided by `retry.error_for_exception`. HTTP status is not judged here.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        headers: Mapping[str, str],
        timeout: float,
        concurrency: int,
        budget_per_minute: float | None,
        max_budget_wait: float,
        session: aiohttp.ClientSession | None = None,
        follow_redirects: bool = True,
    ) -> None:
        self._clock = clock
        self._headers = dict(headers)
        self.timeout = timeout
        self.limit = ConcurrencyLimit(concurrency)
        self.bucket = (
            TokenBucket(budget_per_minute, clock) if budget_per_minute is not None else None
        )
        self._max_budget_wait = max_budget_wait
        self._session = session
        self._owns_session = session is None
        self._follow_redirects = follow_redirects
        self.requests_total = 0
        self.max_body = MAX_BODY

    def __repr__(self) -> str:  # never show header values
        return f"HttpClient(headers={sorted(self._headers)}, timeout={self.timeout})"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Created lazily: building a source must not need a running loop.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit.limit, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def request(
        self,
        url: str,
        *,
        method: str = "GET",
        extra_headers: Mapping[str, str] | None = None,
        what: str,
    ) -> HttpResponse:
        if self.bucket is not None:
            await self.bucket.acquire(self._max_budget_wait)
        async with self.limit:
            self.requests_total += 1
            headers = self._headers if not extra_headers else {**self._headers, **extra_headers}
            try:
                return await within(self.timeout, self._send(method, url, headers), what)
            except Exception as exc:
                raise error_for_exception(exc, what) from exc

    async def _send(self, method: str, url: str, headers: Mapping[str, str]) -> HttpResponse:
        started = time.perf_counter()
        async with self._get_session().request(
            method, url, headers=headers, allow_redirects=self._follow_redirects
        ) as resp:
            body = await _read_bounded(resp, self.max_body)
            nxt = resp.links.get("next")
            next_link = str(nxt["url"]) if nxt is not None and "url" in nxt else None
            return HttpResponse(
                resp.status, resp.headers, body, next_link, time.perf_counter() - started
            )

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None
