from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.support import free_port
from tocsin.clock import FakeClock
from tocsin.sources.checks import HttpCheckSource, TcpCheckSource
from tocsin.sources.factory import build_source

from .conftest import Serve
from .helpers import ADAPTER


def app() -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="status: all good")

    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.5)
        return web.Response(text="late")

    async def auth(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer tok":
            return web.Response(status=401)
        return web.Response(text="hello")

    a = web.Application()
    for path, handler in [
        ("/ok", ok),
        ("/fail", fail),
        ("/moved", moved),
        ("/slow", slow),
        ("/auth", auth),
    ]:
        a.router.add_get(path, handler)
    return a


def http_check(base: str, targets: list[dict[str, Any]], **over: Any) -> Any:
    raw = {"type": "http_check", "name": "web", "timeout": 0.2, "targets": targets, **over}
    for t in targets:
        t["url"] = t["url"].replace("BASE", base)
    return ADAPTER.validate_python(raw)


HTTP_CASES = [
    pytest.param({"url": "BASE/ok"}, {}, True, None, id="200"),
    pytest.param({"url": "BASE/fail"}, {}, False, "HTTP 500, expected 200-399", id="500"),
    pytest.param({"url": "BASE/moved"}, {}, True, None, id="302-in-range"),
    pytest.param({"url": "BASE/moved"}, {"expect": {"status": 200}}, False, "HTTP 302", id="302"),
    pytest.param(
        {"url": "BASE/moved"},
        {"follow_redirects": True, "expect": {"status": 200}},
        True,
        None,
        id="302-followed",
    ),
    pytest.param(
        {"url": "BASE/ok", "expect": {"body_contains": "all good"}},
        {},
        True,
        None,
        id="body-contains",
    ),
    pytest.param(
        {"url": "BASE/ok", "expect": {"body_contains": "nope"}},
        {},
        False,
        "does not contain",
        id="body-missing",
    ),
    pytest.param(
        {"url": "BASE/ok"}, {"expect": {"body_regex": r"status: \w+ good"}}, True, None, id="regex"
    ),
    pytest.param(
        {"url": "BASE/ok"},
        {"expect": {"body_regex": "^bad"}},
        False,
        "does not match",
        id="regex-miss",
    ),
    pytest.param({"url": "BASE/slow"}, {}, False, "timed out", id="timeout"),
    pytest.param(
        {"url": "BASE/auth"},
        {"headers": {"Authorization": "Bearer tok"}},
        True,
        None,
        id="auth-header",
    ),
    pytest.param({"url": "BASE/auth"}, {}, False, "HTTP 401", id="auth-missing"),
]


@pytest.mark.parametrize(("target", "over", "up", "error"), HTTP_CASES)
async def test_http_check(
    serve: Serve,
    clock: FakeClock,
    target: dict[str, Any],
    over: dict[str, Any],
    up: bool,
    error: str | None,
) -> None:
    base = await serve(app())
    source = build_source(http_check(base, [{"id": "t", **target}], **over), clock)
    try:
        result = await source.sweep()
    finally:
        await source.close()
    assert result.ok
    assert result.requests == 1
    [obs] = result.observations
    assert obs.up is up
    if error is None:
        assert obs.error is None
        assert obs.latency is not None
        assert 0 < obs.latency < 0.2
    else:
        assert error in (obs.error or "")


async def test_http_check_labels_and_status_field(serve: Serve, clock: FakeClock) -> None:
    base = await serve(app())
    cfg = http_check(
        base,
        [{"id": "t", "url": "BASE/fail", "labels": {"env": "prod", "team": "web"}}],
        labels={"team": "ops", "site": "hq"},
    )
    source = build_source(cfg, clock)
    try:
        [obs] = (await source.sweep()).observations
    finally:
        await source.close()
    assert obs.labels == {"env": "prod", "team": "web", "site": "hq"}  # target wins
    assert obs.fields == {"status_code": 500.0}


async def test_all_unreachable_is_a_source_failure(clock: FakeClock) -> None:
    dead = [f"http://127.0.0.1:{free_port()}/" for _ in range(2)]
    cfg = http_check("", [{"id": "a", "url": dead[0]}, {"id": "b", "url": dead[1]}])
    source = build_source(cfg, clock)
    try:
        result = await source.sweep()
    finally:
        await source.close()
    assert not result.ok
    assert "none of 2 targets reachable" in (result.error or "")
    assert [o.up for o in result.observations] == [False, False]
    assert all("connection failed" in (o.error or "") for o in result.observations)


async def test_one_unreachable_is_just_down(serve: Serve, clock: FakeClock) -> None:
    base = await serve(app())
    dead = f"http://127.0.0.1:{free_port()}/"
    cfg = http_check(base, [{"id": "a", "url": "BASE/ok"}, {"id": "b", "url": dead}])
    source = build_source(cfg, clock)
    try:
        result = await source.sweep()
        again = await source.recheck(["b", "nope"])
    finally:
        await source.close()
    assert result.ok
    assert [(o.target_id, o.up) for o in result.observations] == [("a", True), ("b", False)]
    assert [(o.target_id, o.up) for o in again] == [("b", False), ("nope", None)]
    assert source.estimate_calls_per_hour() == 2 * 2 * 60


@pytest.fixture
async def tcp_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_tcp_check(clock: FakeClock, tcp_port: int) -> None:
    closed = free_port()
    cfg = ADAPTER.validate_python(
        {
            "type": "tcp_check",
            "name": "tcp",
            "timeout": 1,
            "labels": {"svc": "db"},
            "targets": [
                {"id": "open", "host": "127.0.0.1", "port": tcp_port},
                {"id": "closed", "host": "127.0.0.1", "port": closed},
            ],
        }
    )
    source = build_source(cfg, clock)
    assert isinstance(source, TcpCheckSource)
    result = await source.sweep()
    by_id = {o.target_id: o for o in result.observations}
    assert result.ok
    assert result.requests == 2
    assert by_id["open"].up is True
    assert by_id["open"].latency is not None
    assert by_id["open"].labels == {"svc": "db"}
    assert by_id["closed"].up is False
    assert "connection failed" in (by_id["closed"].error or "")
    assert source.health().requests_total == 2


async def test_check_budget_exhausted_is_unknown(serve: Serve, clock: FakeClock) -> None:
    base = await serve(app())
    targets = [{"id": str(i), "url": "BASE/ok"} for i in range(3)]
    cfg = http_check(base, targets, budget_per_minute=2, interval=1)
    source = build_source(cfg, clock)
    assert isinstance(source, HttpCheckSource)
    try:
        result = await source.sweep()
    finally:
        await source.close()
    ups = sorted((o.up for o in result.observations), key=str)
    assert ups == [None, True, True]
    assert result.requests == 2
