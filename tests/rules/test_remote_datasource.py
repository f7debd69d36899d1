"""Rule groups that evaluate against a remote Prometheus-compatible API."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from tests.rules.helpers import RecordingSink, groups
from tests.support import running_prometheus
from tocsin.clock import FakeClock
from tocsin.errors import ConfigError, QueryError
from tocsin.promql import Engine, MemStore
from tocsin.rules.manager import RuleManager
from tocsin.rules.model import Datasource
from tocsin.rules.query import RemoteQuerier


def _scrape_itself(listen: str) -> str:
    return (
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: self\n    static_configs: [{{targets: ['{listen}']}}]\n"
    )


async def test_group_evaluates_against_a_real_prometheus(tmp_path: Path) -> None:
    async with running_prometheus(tmp_path, _scrape_itself) as base:
        text = f"""
groups:
  - name: remote
    datasource: {{url: "{base}", headers: {{X-Scope-OrgID: tenant-a}}}}
    rules:
      - record: remote:up
        expr: up{{job="self"}}
      - alert: SelfUp
        expr: up{{job="self"}} == 1
        annotations:
          targets: '{{{{ query "count(up)" | first | value }}}}'
      - alert: Bad
        expr: up + on() group_left {{__name__=~"up|scrape_duration_seconds"}}
"""
        store, sink = MemStore(), RecordingSink()
        now = time.time()
        m = RuleManager(groups(text), Engine(), store, sink, FakeClock(now), restore=False)
        try:
            await m.evaluate_all(now)
        finally:
            await m.aclose()
        rules = m.groups[0].rules
        assert [r.status.last_error for r in rules[:2]] == [None, None]
        # Results are written locally.
        [s] = Engine().instant_query(store, "remote:up", now).samples
        assert s.labels["job"] == "self"
        assert s.value == 1.0
        [alert] = sink.all()
        assert alert.labels["alertname"] == "SelfUp"
        assert alert.labels["instance"] == base.removeprefix("http://")
        assert alert.annotations == {"targets": "1"}
        # Prometheus's own error comes back as the rule's error.
        assert rules[2].status.health == "err"
        assert "duplicate series" in (rules[2].status.last_error or "")


VECTOR = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {"a": "1"}, "value": [12.5, "+Inf"]}]},
}


@dataclass
class FakeApi:
    """A local /api/v1/query that records requests and answers as told."""

    status: int = 200
    body: str = json.dumps(VECTOR)
    seen: list[tuple[str, str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.seen.append((request.method, request.path, dict(request.headers), form))
        return web.Response(status=self.status, text=self.body, content_type="application/json")


@asynccontextmanager
async def _fake_api() -> AsyncIterator[FakeApi]:
    api = FakeApi()
    app = web.Application()
    app.router.add_route("*", "/api/v1/query", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    api.url = f"http://127.0.0.1:{port}"
    try:
        yield api
    finally:
        await runner.cleanup()


async def test_remote_querier_sends_auth_and_form_query() -> None:
    async with _fake_api() as api:
        ds = Datasource(api.url, {"X-Team": "ops"}, basic_auth=("u", "p:w"))
        q = RemoteQuerier(ds)
        try:
            [s] = await q.query("up == 0", 12.5)
        finally:
            await q.aclose()
    assert (s.labels, s.value, s.t_ms) == ({"a": "1"}, float("inf"), 12500)
    [(method, path, headers, form)] = api.seen
    assert (method, path) == ("POST", "/api/v1/query")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == {"query": "up == 0", "time": "12.500"}
    assert headers["X-Team"] == "ops"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"u:p:w").decode()


async def test_bearer_token_is_sent() -> None:
    async with _fake_api() as api:
        q = RemoteQuerier(Datasource(api.url, bearer_token="s3cret"))
        await q.query("up", 1)
        await q.aclose()
    assert api.seen[0][2]["Authorization"] == "Bearer s3cret"


@pytest.mark.parametrize(
    ("status", "body", "message", "kind"),
    [
        (503, "down", "HTTP 503 with a body that is not JSON", "unavailable"),
        (
            400,
            json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"}),
            "parse error",
            "bad_data",
        ),
        (
            200,
            json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}),
            "not a vector or scalar",
            "execution",
        ),
    ],
)
async def test_remote_errors_are_query_errors(
    status: int, body: str, message: str, kind: str
) -> None:
    async with _fake_api() as api:
        api.status, api.body = status, body
        q = RemoteQuerier(Datasource(api.url))
        with pytest.raises(QueryError, match=message) as info:
            await q.query("up", 0)
        await q.aclose()
    assert info.value.kind == kind


async def test_unreachable_datasource_is_unavailable() -> None:
    async with _fake_api() as api:
        url = api.url
    q = RemoteQuerier(Datasource(url, timeout=2))
    with pytest.raises(QueryError, match=f"datasource {url}") as info:
        await q.query("up", 0)
    await q.aclose()
    assert info.value.kind == "unavailable"


async def test_query_sync_from_a_worker_thread_uses_the_loop() -> None:
    """Templates run off the loop: the loop must stay free to do the request."""
    async with _fake_api() as api:
        q = RemoteQuerier(Datasource(api.url))
        await q.query("warm", 0)  # binds the querier to this loop
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.create_task(ticker())
        [s] = await asyncio.to_thread(q.query_sync, "from thread", 3)
        t.cancel()
        # On the loop itself it would stall (here: deadlock) the loop, so it refuses.
        with pytest.raises(QueryError, match="called on the event loop"):
            q.query_sync("on loop", 4)
        await q.aclose()
    assert s.value == float("inf")
    assert [form["query"] for *_, form in api.seen] == ["warm", "from thread"]
    assert ticks > 0
    assert q.templates_off_loop


def test_datasource_config_is_validated(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    [g] = groups(
        "groups: [{name: g, datasource: {url: 'http://x:9090/', bearer_token_file: "
        f"'{tmp_path / 'token'}', timeout: 5s}}, rules: []}}]"
    )
    assert g.datasource == Datasource("http://x:9090", bearer_token="s3cret", timeout=5.0)
    with pytest.raises(ConfigError, match="field user not found in datasource"):
        groups("groups: [{name: g, datasource: {url: 'http://x', user: a}, rules: []}]")
    with pytest.raises(ConfigError, match="must be an http"):
        groups("groups: [{name: g, datasource: {url: 'ftp://x'}, rules: []}]")


def test_query_sync_without_a_running_loop() -> None:
    """A caller with no event loop at all (a script) gets a one-shot request."""

    async def serve_and_ask() -> list[float]:
        async with _fake_api() as api:
            q = RemoteQuerier(Datasource(api.url))
            # The server needs this loop free, so the sync caller is a thread.
            out = await asyncio.to_thread(q.query_sync, "x", 1)
            await q.aclose()
            return [s.value for s in out]

    assert asyncio.run(serve_and_ask()) == [float("inf")]
