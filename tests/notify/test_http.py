"""The HTTP path (aiohttp, one session per receivers set) against real local servers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support import free_port
from tocsin.clock import FakeClock
from tocsin.notify import webhook
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.dispatch import Receivers
from tocsin.notify.http import make_client
from tocsin.notify.retry import MemoryAttemptSink, Retrier
from tocsin.notify.types import DeliveryFailure

from .fakes import FakeWebhook
from .smtp_server import make_cert
from .support import notification, stub_render


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


@pytest.mark.parametrize(("server_name", "trusted"), [("localhost", True), ("hook.invalid", False)])
async def test_tls_server_name_is_the_name_verified(
    deps: IntegrationDeps,
    https_hook: tuple[str, list[bytes]],
    cert: tuple[Path, Path],
    server_name: str,
    trusted: bool,
) -> None:
    url, bodies = https_hook
    tls = {"ca_file": str(cert[0]), "server_name": server_name}
    integ = webhook.build({"url": url, "http_config": {"tls_config": tls}}, deps)
    if trusted:
        await integ.notify(notification())
    else:
        with pytest.raises(DeliveryFailure, match="not trusted"):
            await integ.notify(notification())
    assert len(bodies) == int(trusted)


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


class ForwardProxy:
    """A plain-HTTP forward proxy on 127.0.0.1 that answers every request itself.

    It records the request line, which for a proxied request carries the
    absolute URL (RFC 9112 3.2.2), so a test sees what went through it.
    """

    def __init__(self) -> None:
        self.request_lines: list[str] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.request_lines.append(lines[0])
        length = next(
            (int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length:")), 0
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def test_proxy_url_carries_the_request(deps: IntegrationDeps) -> None:
    async with ForwardProxy() as proxy:
        integ = webhook.build(
            {"url": "http://hook.invalid/x", "http_config": {"proxy_url": proxy.url}}, deps
        )
        result = await integ.notify(notification())
    assert result.status_code == 202
    assert proxy.request_lines == ["POST http://hook.invalid/x HTTP/1.1"]


@pytest.mark.parametrize("no_proxy", ["example.org, 127.0.0.1", "127.0.0.0/8", "*"])
async def test_no_proxy_hosts_go_direct(deps: IntegrationDeps, no_proxy: str) -> None:
    async with ForwardProxy() as proxy, FakeWebhook() as hook:
        cfg = {"proxy_url": proxy.url, "no_proxy": no_proxy}
        integ = webhook.build({"url": hook.url + "/in", "http_config": cfg}, deps)
        await integ.notify(notification())
    assert proxy.request_lines == []
    assert [r.path for r in hook.requests] == ["/in"]


@pytest.mark.parametrize("from_environment", [True, False])
async def test_proxy_from_environment_only_when_asked(
    deps: IntegrationDeps, monkeypatch: pytest.MonkeyPatch, from_environment: bool
) -> None:
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with ForwardProxy() as proxy, FakeWebhook() as hook:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        cfg = {"proxy_from_environment": from_environment}
        integ = webhook.build({"url": hook.url + "/in", "http_config": cfg}, deps)
        await integ.notify(notification())
    went_through_proxy = proxy.request_lines == [f"POST {hook.url}/in HTTP/1.1"]
    assert went_through_proxy is from_environment
    assert len(hook.requests) == (0 if from_environment else 1)


@pytest.mark.parametrize("no_proxy", ["example.org", "10.0.0.0/8", ".0.0.1"])
async def test_hosts_not_in_no_proxy_use_the_proxy(deps: IntegrationDeps, no_proxy: str) -> None:
    async with ForwardProxy() as proxy:
        cfg = {"proxy_url": proxy.url, "no_proxy": no_proxy}
        integ = webhook.build({"url": "http://127.0.0.1:9/in", "http_config": cfg}, deps)
        await integ.notify(notification())
    assert proxy.request_lines == ["POST http://127.0.0.1:9/in HTTP/1.1"]


def _in(seconds: int) -> str:
    return format_datetime(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds), True)


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (503, {"Retry-After": "4"}, True, 4.0),
        (429, {"Retry-After": _in(90), "Date": _in(0)}, True, 90.0),
        (429, {"Retry-After": "soon"}, True, None),
        (408, {}, True, None),
        (500, {}, True, None),
        (404, {"Retry-After": "4"}, False, None),  # permanent: no hint kept
        (400, {}, False, None),
    ],
)
async def test_status_classification_and_retry_after(
    deps: IntegrationDeps,
    status: int,
    headers: dict[str, str],
    retryable: bool,
    retry_after: float | None,
) -> None:
    async with FakeWebhook() as hook:
        hook.script(status, "busy\nnow", headers)
        integ = webhook.build({"url": hook.url + "/in"}, deps)
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(notification())
    assert (err.value.status_code, err.value.retryable) == (status, retryable)
    assert err.value.retry_after == retry_after
    assert str(err.value) == f"webhook: HTTP {status} from 127.0.0.1: busy now"


@pytest.mark.parametrize(
    ("url", "message", "retryable"),
    [
        ("ftp://127.0.0.1/x", "unsupported URL scheme", False),
        ("http:///no-host", "invalid URL", False),
        ("http://[::1/x", "invalid URL", False),
        (f"http://127.0.0.1:{free_port()}/x", "talking to 127.0.0.1", True),
    ],
)
async def test_network_outcomes(
    deps: IntegrationDeps, url: str, message: str, retryable: bool
) -> None:
    integ = webhook.build({"url": url}, deps)
    with pytest.raises(DeliveryFailure, match=message) as err:
        await integ.notify(notification())
    assert err.value.retryable is retryable


async def test_injected_session_carries_requests_and_stays_open(clock: FakeClock) -> None:
    sent: list[str] = []

    async def on_start(_: object, __: object, params: aiohttp.TraceRequestStartParams) -> None:
        sent.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session, FakeWebhook() as hook:
        deps = IntegrationDeps(render=stub_render, clock=clock, session=session)
        receivers = Receivers.build(
            [{"name": "r", "webhook_configs": [{"url": hook.url + "/in"}]}],
            deps,
            Retrier(clock, MemoryAttemptSink()),
        )
        [out] = await receivers.notify(notification(receiver="r"), clock.now() + 60)
        await receivers.aclose()
        assert not session.closed  # its owner closes it
    assert out.ok
    assert sent == [hook.url + "/in"]


async def test_each_receivers_set_owns_its_session(clock: FakeClock) -> None:
    """A reload builds a new set from the same deps and closes the old one."""
    deps = IntegrationDeps(render=stub_render, clock=clock)
    retrier = Retrier(clock, MemoryAttemptSink())
    async with FakeWebhook() as hook:
        config = [{"name": "r", "webhook_configs": [{"url": hook.url + "/in"}]}]
        old = Receivers.build(config, deps, retrier)
        await old.notify(notification(receiver="r"), clock.now() + 60)
        new = Receivers.build(config, deps, retrier)
        assert old.deps is not None
        old_session = old.deps.http.get()
        await old.aclose()
        assert old_session.closed
        [out] = await new.notify(notification(receiver="r"), clock.now() + 60)
        assert new.deps is not None
        new_session = new.deps.http.get()
        await new.aclose()
    assert out.ok
    assert new_session.closed
    assert len(hook.requests) == 2


async def test_header_with_line_break_is_a_permanent_failure(deps: IntegrationDeps) -> None:
    async with FakeWebhook() as hook:
        headers = {"X-Venue": {"values": ["v1\r\nX-Injected: yes"]}}
        integ = webhook.build({"url": hook.url, "http_config": {"http_headers": headers}}, deps)
        with pytest.raises(DeliveryFailure, match="invalid request") as err:
            await integ.notify(notification())
    assert not err.value.retryable
    assert hook.requests == []


async def test_per_request_headers_do_not_stick_and_no_cookies_are_kept(
    deps: IntegrationDeps,
) -> None:
    """Merged headers are kept per set of request headers; the session keeps
    no cookies (as Alertmanager's client), so a Set-Cookie is never sent back."""
    seen: list[dict[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        resp = web.Response(text="ok")
        resp.set_cookie("session", "abc")
        return resp

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    client = make_client(
        {"http_headers": {"X-Team": {"values": ["ops"]}}},
        session=deps.http,
        timeout=5.0,
        where="webhook_configs[0]",
    )
    try:
        for extra in ({"X-Thread": "1"}, {"X-Thread": "2"}, None, {"X-Thread": "1"}):
            resp = await client.request("POST", url, content=b"{}", headers=extra)
            assert resp.status_code == 200
    finally:
        await runner.cleanup()
    assert [h.get("X-Thread") for h in seen] == ["1", "2", None, "1"]
    assert [h.get("X-Team") for h in seen] == ["ops"] * 4
    assert [h.get("User-Agent") for h in seen] == ["tocsin"] * 4
    assert not any("Cookie" in h for h in seen)
