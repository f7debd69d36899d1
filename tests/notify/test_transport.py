"""The default HTTP path (httpx client over the aiohttp transport) against real servers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from tocsin.notify import webhook
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.types import DeliveryFailure

from .fakes import FakeWebhook
from .smtp_server import make_cert
from .support import notification


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def https_hook(cert: tuple[Path, Path]) -> AsyncIterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = runner.addresses[0][1]
    yield f"https://127.0.0.1:{port}/hook", bodies
    await runner.cleanup()


async def test_https_with_configured_ca(
    deps: IntegrationDeps, https_hook: tuple[str, list[bytes]], cert: tuple[Path, Path]
) -> None:
    url, bodies = https_hook
    integ = webhook.build(
        {"url": url, "http_config": {"tls_config": {"ca_file": str(cert[0])}}}, deps
    )
    result = await integ.notify(notification())
    await integ.aclose()
    assert result.status_code == 200
    assert b'"version":"4"' in bodies[0].replace(b" ", b"")


async def test_untrusted_certificate_is_permanent(
    deps: IntegrationDeps, https_hook: tuple[str, list[bytes]]
) -> None:
    url, bodies = https_hook
    integ = webhook.build({"url": url}, deps)
    with pytest.raises(DeliveryFailure, match="not trusted") as err:
        await integ.notify(notification())
    await integ.aclose()
    assert not err.value.retryable
    assert bodies == []


async def test_redirect_is_followed(deps: IntegrationDeps) -> None:
    async with FakeWebhook() as hook:
        hook.script(307, "", {"Location": "/moved"})
        integ = webhook.build({"url": hook.url + "/old"}, deps)
        await integ.notify(notification())
        await integ.aclose()
    assert [r.path for r in hook.requests] == ["/old", "/moved"]
    assert hook.requests[1].json["version"] == "4"


async def test_slow_server_times_out_retryably(deps: IntegrationDeps) -> None:
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/", stall)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    deps.http_timeout = 0.2  # an I/O timeout, so real time; kept tiny
    integ = webhook.build({"url": f"http://127.0.0.1:{runner.addresses[0][1]}/"}, deps)
    with pytest.raises(DeliveryFailure, match="timed out") as err:
        await integ.notify(notification())
    release.set()
    await integ.aclose()
    await runner.cleanup()
    assert err.value.retryable


async def test_injected_transport_replaces_the_network(deps: IntegrationDeps) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, headers={"Retry-After": "4"})

    deps.transport = httpx.MockTransport(handler)
    integ = webhook.build({"url": "http://hook.invalid/x"}, deps)
    with pytest.raises(DeliveryFailure) as err:
        await integ.notify(notification())
    await integ.aclose()
    assert seen[0].url.host == "hook.invalid"
    assert (err.value.status_code, err.value.retry_after) == (503, 4.0)
