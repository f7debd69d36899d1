"""The Alertmanager v2 API router: TestClient for shapes and status codes, the
real `amtool` against it served by uvicorn."""

from __future__ import annotations

import asyncio
import gc
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.alerting.acceptance.harness import Harness
from tests.support import free_port, need_program, serve_app
from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.dispatcher import Dispatcher
from tocsin.alerting.store import fingerprint
from tocsin.api import amapi
from tocsin.api.amapi import format_time, make_router, parse_time
from tocsin.clock import FakeClock, SystemClock

CFG = """
global:
  resolve_timeout: 5m
  slack_api_url: https://hooks.slack.com/services/T0/B0/SECRET
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1h
  routes:
    - matchers: [severity="page"]
      receiver: pager
      continue: true
    - matchers: [alertname="Muted"]
      mute_time_intervals: [always]
receivers:
  - name: team
  - name: pager
    slack_configs: [{channel: "#p"}]
inhibit_rules:
  - source_matchers: [severity="page"]
    target_matchers: [severity="warn"]
    equal: [venue]
time_intervals:
  - name: always
    time_intervals: [{years: ["2000:2100"]}]
"""


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def dispatcher(clock: FakeClock) -> Dispatcher:
    return Dispatcher(parse_alertmanager_config(CFG), None, clock)


@pytest.fixture
def client(dispatcher: Dispatcher) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(make_router(dispatcher))
    with TestClient(app) as c:
        yield c


def _post(client: TestClient, *alerts: dict[str, object]) -> int:
    return client.post("/api/v2/alerts", json=list(alerts)).status_code


def test_time_format_round_trips() -> None:
    assert format_time(1700000000.25) == "2023-11-14T22:13:20.250Z"
    assert parse_time("2023-11-14T22:13:20.250123456Z", "t") == pytest.approx(1700000000.250123)
    assert parse_time("0001-01-01T00:00:00Z", "t") is None
    with pytest.raises(ValueError, match="invalid RFC 3339"):
        parse_time("yesterday", "startsAt")


def test_parsed_times_are_remembered_and_errors_name_their_field() -> None:
    text = "2023-11-14T22:13:20.5+01:00"
    assert parse_time(text, "a") == parse_time(text, "b") == 1699996400.5
    for field in ("alerts[0].endsAt", "alerts[7].startsAt"):  # the same bad text twice
        with pytest.raises(ValueError, match=re.escape(f"{field}: invalid RFC 3339")):
            parse_time("2023-13-01T00:00:00Z", field)


def test_post_alerts_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v2/alerts"])


def test_listing_frees_what_it_rendered_before_the_collector_is_back(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Re-enabled with the rendered alerts still alive, the collector would
    # walk them all at its next allocation.
    n = 5000
    body = [{"labels": {"alertname": "A", "i": str(i)}} for i in range(n)]
    assert client.post("/api/v2/alerts", json=body).status_code == 200
    assert len(client.get("/api/v2/alerts").json()) == n  # renders the static parts
    pending: list[int] = []
    monkeypatch.setattr(amapi.gc, "enable", lambda: pending.append(gc.get_count()[0]))
    try:
        assert len(client.get("/api/v2/alerts").json()) == n
    finally:
        gc.enable()
    assert pending  # the listing turned the collector back on
    assert max(pending) < n // 2


def test_post_and_list_alerts(client: TestClient, clock: FakeClock) -> None:
    now = clock.now()
    assert _post(client, {"labels": {"alertname": "A", "venue": "v1"}}) == 200
    assert (
        _post(
            client,
            {
                "labels": {"alertname": "B", "severity": "page", "venue": "v1"},
                "annotations": {"summary": "down"},
                "startsAt": _iso(now - 60),
                "endsAt": _iso(now + 600),
                "generatorURL": "http://prom/graph",
            },
        )
        == 200
    )
    got = client.get("/api/v2/alerts").json()
    assert [a["labels"]["alertname"] for a in got] == sorted(
        ["A", "B"],
        key=lambda n: fingerprint(
            {"alertname": n, "venue": "v1"} | ({"severity": "page"} if n == "B" else {})
        ),
    )
    b = next(a for a in got if a["labels"]["alertname"] == "B")
    assert b["fingerprint"] == fingerprint(b["labels"])
    assert b["startsAt"] == format_time(now - 60)
    assert b["endsAt"] == format_time(now + 600)
    assert b["generatorURL"] == "http://prom/graph"
    assert b["annotations"] == {"summary": "down"}
    # `continue` on the only matching child: the parent is not a match itself.
    assert [r["name"] for r in b["receivers"]] == ["pager"]
    assert b["status"] == {
        "state": "active",
        "silencedBy": [],
        "inhibitedBy": [],
        "mutedBy": [],
    }
    a = next(a for a in got if a["labels"]["alertname"] == "A")
    assert a["endsAt"] == format_time(now + 300)  # resolve_timeout


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"labels": {}}], "at least one label pair required"),
        ([{"labels": {"a": "1"}, "startsAt": "soon"}], "invalid RFC 3339"),
        ([{"labels": {"a": 1}}], "labels: must be an object of strings"),
        ([{"labels": {"a": "1"}, "annotations": {"s": None}}], "annotations: must be an object"),
        ([{"labels": {"a": "1"}, "generatorURL": 5}], "alerts[0].generatorURL: must be a string"),
        ([{"labels": {"a": "1"}}, "x"], "alerts[1]: must be an object"),
        ([{"labels": {"a": "1"}, "endsAt": 5}], "alerts[0].endsAt must be an RFC 3339 string"),
        ([{"labels": {"a": "1"}, "startsAt": "2023-01-01T00:00:00"}], "has no time zone"),
        (
            [
                {
                    "labels": {"a": "1"},
                    "startsAt": "2023-01-02T00:00:00Z",
                    "endsAt": "2023-01-01T00:00:00Z",
                }
            ],
            "start time must be before end time",
        ),
        ({"labels": {"a": "1"}}, "must be a list"),
    ],
)
def test_bad_alerts_are_400_with_reason(client: TestClient, body: object, message: str) -> None:
    r = client.post("/api/v2/alerts", json=body)
    assert r.status_code == 400
    assert message in r.json()


def test_filters_and_states(client: TestClient, clock: FakeClock) -> None:
    _post(
        client,
        {"labels": {"alertname": "Src", "severity": "page", "venue": "v1"}},
        {"labels": {"alertname": "Tgt", "severity": "warn", "venue": "v1"}},
        {"labels": {"alertname": "Muted"}},
        {"labels": {"alertname": "Quiet", "zone": "z1"}},
        {
            "labels": {"alertname": "Old"},
            "startsAt": _iso(clock.now() - 100),
            "endsAt": _iso(clock.now() - 10),
        },
    )
    sil = client.post(
        "/api/v2/silences",
        json={
            "matchers": [{"name": "zone", "value": "z1", "isRegex": False}],
            "startsAt": _iso(clock.now()),
            "endsAt": _iso(clock.now() + 3600),
            "createdBy": "me",
            "comment": "maintenance",
        },
    ).json()["silenceID"]

    def names(**params: object) -> list[str]:
        r = client.get("/api/v2/alerts", params=params)
        assert r.status_code == 200, r.text
        return sorted(a["labels"]["alertname"] for a in r.json())

    assert names() == ["Muted", "Quiet", "Src", "Tgt"]  # resolved ones are not listed
    assert names(silenced="false") == ["Muted", "Src", "Tgt"]
    assert names(inhibited="false") == ["Muted", "Quiet", "Src"]
    assert names(active="false") == ["Quiet", "Tgt"]
    assert names(filter='alertname=~"S.*|T.*"') == ["Src", "Tgt"]
    assert names(filter=["venue=v1", "severity!=page"]) == ["Tgt"]
    assert names(receiver="pag.*") == ["Src"]
    by_name = {a["labels"]["alertname"]: a for a in client.get("/api/v2/alerts").json()}
    assert by_name["Quiet"]["status"]["silencedBy"] == [sil]
    assert by_name["Quiet"]["status"]["state"] == "suppressed"
    assert by_name["Tgt"]["status"]["inhibitedBy"] == [
        fingerprint({"alertname": "Src", "severity": "page", "venue": "v1"})
    ]
    # Time intervals mute groups: the alerts listing shows no mutedBy, the
    # groups listing does (as in Alertmanager).
    assert by_name["Muted"]["status"] == {
        "state": "active",
        "silencedBy": [],
        "inhibitedBy": [],
        "mutedBy": [],
    }
    groups = client.get("/api/v2/alerts/groups", params={"filter": "alertname=Muted"}).json()
    [muted] = [a["status"] for g in groups for a in g["alerts"]]
    assert muted["mutedBy"] == ["always"]
    assert muted["state"] == "suppressed"
    assert client.get("/api/v2/alerts/groups", params={"muted": "false"}).json() != []
    assert all(
        a["labels"]["alertname"] != "Muted"
        for g in client.get("/api/v2/alerts/groups", params={"muted": "false"}).json()
        for a in g["alerts"]
    )
    r = client.get("/api/v2/alerts", params={"filter": "alertname=~("})
    assert r.status_code == 400
    assert "bad matcher format" in r.json()
    assert client.get("/api/v2/alerts", params={"active": "maybe"}).status_code == 400


def test_groups(client: TestClient) -> None:
    _post(
        client,
        {"labels": {"alertname": "A", "zone": "1"}},
        {"labels": {"alertname": "A", "zone": "2"}},
        {"labels": {"alertname": "B", "severity": "page"}},
    )
    groups = client.get("/api/v2/alerts/groups").json()
    assert all(g["routeLabels"] == {} for g in groups)
    summary = [
        (
            g["labels"],
            g["receiver"]["name"],
            sorted(a["labels"].get("zone", "") for a in g["alerts"]),
        )
        for g in groups
    ]
    assert summary == [
        ({"alertname": "A"}, "team", ["1", "2"]),
        ({"alertname": "B"}, "pager", [""]),
    ]
    only = client.get("/api/v2/alerts/groups", params={"receiver": "team"}).json()
    assert [g["labels"] for g in only] == [{"alertname": "A"}]


def test_silence_lifecycle(client: TestClient, clock: FakeClock) -> None:
    body = {
        "matchers": [{"name": "alertname", "value": "A.*", "isRegex": True, "isEqual": True}],
        "startsAt": _iso(clock.now()),
        "endsAt": _iso(clock.now() + 3600),
        "createdBy": "ops",
        "comment": "deploy",
    }
    sid = client.post("/api/v2/silences", json=body).json()["silenceID"]
    got = client.get(f"/api/v2/silence/{sid}").json()
    assert got["status"] == {"state": "active"}
    assert got["matchers"] == body["matchers"]
    assert (got["createdBy"], got["comment"]) == ("ops", "deploy")
    assert got["endsAt"] == format_time(clock.now() + 3600)
    # Update in place: same id.
    body2 = {**body, "id": sid, "comment": "longer", "endsAt": _iso(clock.now() + 7200)}
    assert client.post("/api/v2/silences", json=body2).json()["silenceID"] == sid
    listed = client.get("/api/v2/silences", params={"filter": "alertname=A.*"}).json()
    assert [s["comment"] for s in listed] == ["longer"]
    assert client.get("/api/v2/silences", params={"filter": "alertname=B"}).json() == []
    assert client.delete(f"/api/v2/silence/{sid}").status_code == 200
    assert client.get(f"/api/v2/silence/{sid}").json()["status"]["state"] == "expired"
    history = client.get("/api/tocsin/v1/silences/history").json()
    assert [(s["id"], s["status"]["state"]) for s in history] == [(sid, "expired")]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"matchers": []}, 400, "at least one matcher required"),
        ({"matchers": [{"name": "a", "value": ".*", "isRegex": True}]}, 400, "empty string"),
        ({"endsAt": "2000-01-01T00:00:00Z"}, 400, "start time must be before end time"),
        ({"id": "9a1b0c3e-0000-4000-8000-000000000000"}, 404, "not found"),
        ({"startsAt": None}, 400, "required"),
    ],
)
def test_bad_silences(
    client: TestClient, clock: FakeClock, change: dict[str, object], status: int, message: str
) -> None:
    body = {
        "matchers": [{"name": "a", "value": "b", "isRegex": False}],
        "startsAt": _iso(clock.now()),
        "endsAt": _iso(clock.now() + 60),
        "createdBy": "x",
        "comment": "y",
        **change,
    }
    r = client.post("/api/v2/silences", json=body)
    assert r.status_code == status
    assert message in r.json()


def test_unknown_and_malformed_silence_ids(client: TestClient) -> None:
    missing = "9a1b0c3e-0000-4000-8000-000000000000"
    assert client.get(f"/api/v2/silence/{missing}").status_code == 404
    assert client.delete(f"/api/v2/silence/{missing}").status_code == 404
    assert client.get("/api/v2/silence/not-a-uuid").status_code == 422


def test_status_and_receivers(client: TestClient) -> None:
    st = client.get("/api/v2/status").json()
    assert st["cluster"]["status"] == "disabled"
    assert st["versionInfo"]["version"]
    assert "SECRET" not in st["config"]["original"]
    assert "<secret>" in st["config"]["original"]
    assert st["uptime"].endswith("Z")
    assert client.get("/api/v2/receivers").json() == [{"name": "team"}, {"name": "pager"}]


def test_history_endpoints(client: TestClient, dispatcher: Dispatcher, clock: FakeClock) -> None:
    _post(client, {"labels": {"alertname": "H"}, "endsAt": _iso(clock.now() + 100)})
    _post(
        client,
        {
            "labels": {"alertname": "H"},
            "startsAt": _iso(clock.now()),
            "endsAt": _iso(clock.now()),
        },
    )
    fp = fingerprint({"alertname": "H"})
    rows = client.get("/api/tocsin/v1/alerts/history", params={"fingerprint": fp}).json()
    assert [(r["from"], r["to"]) for r in rows] == [("firing", "resolved"), (None, "firing")]
    assert (
        client.get("/api/tocsin/v1/alerts/history", params={"since": clock.now() + 1}).json() == []
    )
    assert client.get("/api/tocsin/v1/alerts/history", params={"since": "x"}).status_code == 400
    assert client.get("/api/tocsin/v1/notifications", params={"receiver": "team"}).json() == []


# -- the real amtool ----------------------------------------------------------


async def _amtool(amtool: str, url: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        amtool,
        f"--alertmanager.url={url}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_amtool_alerts_and_silences() -> None:
    amtool = need_program("amtool")
    d = Dispatcher(parse_alertmanager_config(CFG), None, SystemClock())
    await d.start()
    app = FastAPI()
    app.include_router(make_router(d))
    try:
        async with serve_app(app) as url:
            rc, out, err = await _amtool(
                amtool,
                url,
                "alert",
                "add",
                "alertname=Disk",
                "venue=v9",
                "--annotation=summary=full",
            )
            assert rc == 0, err
            rc, out, err = await _amtool(
                amtool, url, "-o", "json", "alert", "query", "alertname=Disk"
            )
            assert rc == 0, err
            [alert] = json.loads(out)
            assert alert["labels"] == {"alertname": "Disk", "venue": "v9"}
            assert alert["annotations"] == {"summary": "full"}

            rc, out, err = await _amtool(
                amtool, url, "silence", "add", "venue=v9", "--comment=work", "--author=ops",
                "--duration=1h",
            )  # fmt: skip
            assert rc == 0, err
            sid = out.strip()
            assert d.silences.get(sid).comment == "work"
            rc, out, err = await _amtool(amtool, url, "-o", "json", "silence", "query")
            assert rc == 0, err
            assert [s["id"] for s in json.loads(out)] == [sid]
            rc, out, err = await _amtool(amtool, url, "-o", "json", "alert", "query", "--silenced")
            assert rc == 0, err
            assert [a["status"]["silencedBy"] for a in json.loads(out)] == [[sid]]
            rc, out, err = await _amtool(amtool, url, "silence", "expire", sid)
            assert rc == 0, err
            rc, out, err = await _amtool(amtool, url, "-o", "json", "silence", "query")
            assert json.loads(out) == []  # expired ones only with --expired
            rc, out, err = await _amtool(amtool, url, "-o", "json", "silence", "query", "--expired")
            assert [s["id"] for s in json.loads(out)] == [sid]
            rc, out, err = await _amtool(amtool, url, "config", "show")
            assert rc == 0, err
            assert "receiver: team" in out
    finally:
        await d.stop()


async def test_real_prometheus_sends_alerts(tmp_path: Path) -> None:
    prometheus = need_program("prometheus")
    d = Dispatcher(parse_alertmanager_config(CFG), None, SystemClock())
    await d.start()
    app = FastAPI()
    app.include_router(make_router(d))
    proc = None
    try:
        async with serve_app(app) as url:
            (tmp_path / "rules.yml").write_text(
                "groups:\n- name: g\n  interval: 1s\n  rules:\n"
                "  - alert: Always\n    expr: vector(1)\n"
                "    labels: {severity: page}\n    annotations: {summary: always on}\n"
            )
            (tmp_path / "prometheus.yml").write_text(
                "global: {evaluation_interval: 1s}\n"
                "rule_files: [rules.yml]\n"
                "alerting:\n  alertmanagers:\n"
                f"  - api_version: v2\n    static_configs: [{{targets: ['{url[7:]}']}}]\n"
            )
            proc = await asyncio.create_subprocess_exec(
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{free_port()}",
                # Alerts evaluated before the alertmanager is discovered are
                # dropped; resend soon rather than after the default minute.
                "--rules.alert.resend-delay=1s",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            # Waiting for a real outside process to evaluate and send.
            for _ in range(300):
                if len(d.alerts):
                    break
                await asyncio.sleep(0.1)
            [alert] = list(d.alerts)
            assert alert.labels == {"alertname": "Always", "severity": "page"}
            assert alert.annotations == {"summary": "always on"}
            assert not alert.timeout  # Prometheus sends an explicit endsAt
            assert alert.generator_url.startswith("http")
    finally:
        if proc is not None and proc.returncode is None:
            proc.terminate()
            await proc.wait()
        await d.stop()


async def test_failed_deliveries_are_listed_by_the_history_endpoints(clock: FakeClock) -> None:
    h = Harness(
        "route: {receiver: team, group_wait: 10s, group_interval: 1m}\nreceivers: [{name: team}]",
        clock,
    )
    await h.start()
    h.recorders["team"].failures = 1000
    await h.push(h.alert("Down", ends=10_000))
    await h.run_until(69)  # one flush (t=10), retried until its deadline (t=70)
    await h.stop()
    app = FastAPI()
    app.include_router(make_router(h.dispatcher))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tocsin"
    ) as api:
        [note] = (await api.get("/api/tocsin/v1/notifications?receiver=team")).json()
        attempts = (await api.get("/api/tocsin/v1/notifications/attempts")).json()
    assert note["ok"] is False
    assert note["integration"] == "recorder[0]"
    assert "scripted failure" in note["error"]
    assert note["firing"] == [fingerprint({"alertname": "Down"})]
    assert note["attempts"] == len(attempts) > 1
    assert not any(a["ok"] for a in attempts)
    assert [a["final"] for a in attempts].count(True) == 1
    assert attempts[0] == {
        "id": attempts[0]["id"],
        "at": format_time(h.t0 + 65),  # 10 + 1 + 2 + 4 + 8 + 10 + 10 + 10 + 10
        "receiver": "team",
        "integration": "recorder[0]",
        "groupKey": "{}:{}",
        "attempt": len(attempts),
        "duration": 0.0,
        "ok": False,
        "retryable": True,
        "error": "scripted failure",
        "statusCode": 503,
        "final": True,
        "detail": "",
    }


async def test_attempt_detail_is_kept_in_the_history(clock: FakeClock) -> None:
    h = Harness(
        "route: {receiver: team, group_wait: 10s}\nreceivers: [{name: team}]",
        clock,
    )
    await h.start()
    h.recorders["team"].detail = "ts=1700000000.000100"
    await h.push(h.alert("Down", ends=10_000))
    await h.run_until(11)
    await h.stop()
    app = FastAPI()
    app.include_router(make_router(h.dispatcher))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tocsin"
    ) as api:
        [attempt] = (await api.get("/api/tocsin/v1/notifications/attempts")).json()
    assert attempt["ok"] is True
    assert attempt["detail"] == "ts=1700000000.000100"
