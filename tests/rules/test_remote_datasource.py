"""Rule groups that evaluate against a remote Prometheus-compatible API."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.rules.helpers import RecordingSink, groups
from tests.support import free_port, need_program
from tocsin.clock import FakeClock
from tocsin.errors import ConfigError, QueryError
from tocsin.promql import Engine, MemStore
from tocsin.rules.manager import RuleManager
from tocsin.rules.model import Datasource
from tocsin.rules.query import RemoteQuerier


@contextlib.asynccontextmanager
async def _prometheus(tmp: Path) -> AsyncIterator[str]:
    exe = need_program("prometheus")
    port = free_port()
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: self\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    proc = await asyncio.create_subprocess_exec(
        exe,
        f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            # Waiting for a real server to scrape itself once, bounded to 30 s.
            for _ in range(300):
                try:
                    r = await client.get(f"{base}/api/v1/query", params={"query": "up"})
                    if r.status_code == 200 and r.json()["data"]["result"]:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("prometheus did not come up with data within 30 s")
        yield base
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def test_group_evaluates_against_a_real_prometheus(tmp_path: Path) -> None:
    async with _prometheus(tmp_path) as base:
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


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [{"metric": {"a": "1"}, "value": [12.5, "+Inf"]}],
            },
        },
    )


async def test_remote_querier_sends_auth_and_form_query() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _answer(request)

    ds = Datasource("http://prom.example:9090", {"X-Team": "ops"}, basic_auth=("u", "p"))
    q = RemoteQuerier(ds, transport=httpx.MockTransport(handler))
    [s] = await q.query("up == 0", 12.5)
    await q.aclose()
    assert (s.labels, s.value, s.t_ms) == ({"a": "1"}, float("inf"), 12500)
    [req] = seen
    assert req.method == "POST"
    assert req.url.path == "/api/v1/query"
    assert dict(httpx.QueryParams(req.content.decode())) == {"query": "up == 0", "time": "12.500"}
    assert req.headers["X-Team"] == "ops"
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(503, text="down"), "not JSON"),
        (
            httpx.Response(
                400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}
            ),
            "parse error",
        ),
        (
            httpx.Response(
                200, json={"status": "success", "data": {"resultType": "matrix", "result": []}}
            ),
            "not a vector or scalar",
        ),
    ],
)
async def test_remote_errors_are_query_errors(response: httpx.Response, message: str) -> None:
    ds = Datasource("http://prom.example:9090")
    q = RemoteQuerier(ds, transport=httpx.MockTransport(lambda r: response))
    with pytest.raises(QueryError, match=message):
        await q.query("up", 0)
    await q.aclose()


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
