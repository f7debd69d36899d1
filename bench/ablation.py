"""Stand-ins that switch parts of tocsin's alerting server off, for measuring
what the rest costs. Measurement only: tocsin itself never uses them.

- `persistence`: the alerting state's writes are discarded (no SQLite work
  for alerts, history, groups, the notification log, notifications and
  attempts).
- `http`: the receivers' HTTP client is replaced by the cheapest client
  that can still deliver Alertmanager's webhook to the bench's receiver: a
  keep-alive HTTP/1.1 connection pool on an asyncio protocol with httptools
  parsing the answers (about 50 µs of CPU per request on the development
  machine, against 250-300 µs for aiohttp). It supports plain `http://`
  URLs with a Content-Length answer and nothing else; no HTTP library could
  be cheaper than it, so a run with it is a floor for any client choice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

PARTS = ("persistence", "http")


class _Answer(asyncio.Protocol):
    """One pooled connection: write a request, resolve `done` with the status."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[int] | None = None
        self.body: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport.
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection closed"))


def _free_http() -> Callable[..., Any]:
    from tocsin.notify.http import HttpResponse

    pools: dict[tuple[str, int], list[_Answer]] = {}
    no_headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())

    async def request(
        self: Any,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        pool = pools.setdefault((host, port), [])
        loop = asyncio.get_running_loop()
        conn = pool.pop() if pool else (await loop.create_connection(_Answer, host, port))[1]
        body = content or b""
        head = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        conn.done = loop.create_future()
        conn.body = []
        conn.transport.write(
            f"{method} {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status = await conn.done
        pool.append(conn)
        return HttpResponse(status, no_headers, b"".join(conn.body), url, None)

    return request


def install(parts: Iterable[str]) -> None:
    """Switch the named parts off in this process (the bench's tocsin child)."""
    for part in parts:
        if part == "persistence":
            from tocsin.alerting.persistence import AlertingState

            AlertingState._write = lambda self, keyed, appends: None  # type: ignore[method-assign]
        elif part == "http":
            from tocsin.notify.http import HttpClient

            HttpClient.request = _free_http()  # type: ignore[method-assign]
        else:
            raise ValueError(f"unknown part to switch off: {part!r} (known: {', '.join(PARTS)})")
