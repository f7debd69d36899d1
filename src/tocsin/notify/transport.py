"""An httpx transport that sends through aiohttp.

Integrations speak httpx (so tests and callers can inject any transport,
such as httpx.MockTransport), but httpx's own connection pool spends a lot
of CPU under concurrency (see docs/bench/sources.md: 20x fewer requests/s
than aiohttp at concurrency 50). Fan-out of thousands of notifications at
once is exactly that case, so the default transport hands the wire work to
aiohttp. Redirects, auth and default headers stay with the httpx client.
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import httpx


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    t = request.extensions.get("timeout") or {}
    # aiohttp's `connect` includes the wait for a free pooled connection;
    # under a burst that queue is long and is not a failure of the server,
    # so only the socket connect and reads are limited here. The retrier's
    # attempt timeout still bounds the whole request.
    return aiohttp.ClientTimeout(
        total=None, connect=None, sock_connect=t.get("connect"), sock_read=t.get("read")
    )


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests with one aiohttp session, created on first use."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
        trust_env: bool = False,
        limit: int = 100,
    ) -> None:
        self._ssl = ssl_context
        self._trust_env = trust_env
        self._proxy = proxy
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl or True)
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                skip_auto_headers=("User-Agent", "Content-Type"),
                trust_env=self._trust_env,  # HTTP(S)_PROXY and NO_PROXY from the environment
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._get_session()
        body = await request.aread()
        try:
            async with session.request(
                request.method,
                str(request.url),
                # raw keeps each header's spelling (multi_items lowercases).
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ],
                data=body or None,
                allow_redirects=False,
                timeout=_timeout(request),
                proxy=self._proxy,
            ) as resp:
                content = await resp.read()
                # aiohttp has already decoded the body and its framing.
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in resp.raw_headers
                    if k.lower()
                    not in (b"content-encoding", b"transfer-encoding", b"content-length")
                ]
                return httpx.Response(
                    resp.status, headers=headers, content=content, request=request
                )
        except TimeoutError as e:
            raise httpx.ReadTimeout(f"timed out: {e}", request=request) from e
        except aiohttp.ClientConnectorError as e:
            raise httpx.ConnectError(str(e), request=request) from e
        except aiohttp.ServerDisconnectedError as e:
            raise httpx.RemoteProtocolError(str(e), request=request) from e
        except aiohttp.InvalidURL as e:
            raise httpx.UnsupportedProtocol(str(e), request=request) from e
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as e:
            raise httpx.NetworkError(f"{type(e).__name__}: {e}", request=request) from e

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
