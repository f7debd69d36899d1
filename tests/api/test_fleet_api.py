from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.fake_engine import FakeEngine, sample_engine
from tocsin.api.app import create_app


@pytest.fixture
def engine() -> FakeEngine:
    return sample_engine()


@pytest.fixture
def client(engine: FakeEngine) -> TestClient:
    return TestClient(create_app(engine))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["v1-z1", "v1-z2", "v2-z1", "v2-z2", "v3-z1"]),
        ({"state": "down"}, ["v1-z2"]),
        ({"label": "importance=critical"}, ["v1-z1", "v2-z1"]),
        ({"label": ["importance!=critical", "venue=v1"]}, ["v1-z2"]),
        ({"source": "other"}, []),
        ({"limit": 2, "offset": 1}, ["v1-z2", "v2-z1"]),
    ],
)
def test_list_targets_filters(
    client: TestClient, params: dict[str, object], expected: list[str]
) -> None:
    resp = client.get("/api/tocsin/v1/targets", params=params)  # type: ignore[arg-type]
    assert resp.status_code == 200
    assert [t["id"] for t in resp.json()["targets"]] == expected


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"state": "sideways"}, "invalid state 'sideways'"),
        ({"label": "no-equals"}, "invalid label filter"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_parameters_are_4xx_with_reason(
    client: TestClient, params: dict[str, object], needle: str
) -> None:
    resp = client.get("/api/tocsin/v1/targets", params=params)  # type: ignore[arg-type]
    assert 400 <= resp.status_code < 500
    assert needle in resp.text


def test_one_target_with_history(client: TestClient) -> None:
    resp = client.get("/api/tocsin/v1/targets/v1-z2")
    body = resp.json()
    assert body["state"] == "down"
    assert body["reason"] == "down because of test"
    assert body["history"][0]["reason"] == "first observation"
    assert client.get("/api/tocsin/v1/targets/nope").status_code == 404


def test_sources_show_health_and_budget(client: TestClient, engine: FakeEngine) -> None:
    engine.incidents["vendor"] = "mass change: 40% of targets flipped"
    src = client.get("/api/tocsin/v1/sources").json()["sources"][0]
    assert src["circuit"] == "closed"
    assert src["budget_available"] == 590
    assert src["incident"].startswith("mass change")


def test_heartbeat_known_and_unknown(client: TestClient, engine: FakeEngine) -> None:
    assert client.post("/api/tocsin/v1/heartbeat/backup-job").status_code == 200
    assert engine.heartbeats["backup-job"] == [engine.t]
    assert client.post("/api/tocsin/v1/heartbeat/ghost").status_code == 404


def test_heartbeat_failure_ping(client: TestClient, engine: FakeEngine) -> None:
    resp = client.post("/api/tocsin/v1/heartbeat/backup-job", params={"ok": "false"})
    assert resp.status_code == 200
    assert resp.json()["ok"] is False
    assert engine.heartbeat_ok == [False]


def test_health_ready_reload(client: TestClient, engine: FakeEngine) -> None:
    assert client.get("/-/healthy").text == "OK"
    assert client.get("/-/ready").status_code == 200
    assert client.head("/-/healthy").status_code == 200
    assert client.head("/-/ready").status_code == 200
    engine.ready = False
    assert client.get("/-/ready").status_code == 503
    assert client.head("/-/ready").status_code == 503
    assert client.post("/-/reload").status_code == 200
    engine.reload_error = "tocsin.yml:3: sources[0].interval: bad"
    resp = client.post("/-/reload")
    assert resp.status_code == 500
    assert "sources[0].interval" in resp.text


def test_metrics_exposes_target_up_per_target(client: TestClient) -> None:
    text = client.get("/metrics").text
    samples = {
        (s.name, s.labels["target"]): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    assert samples[("tocsin_target_up", "v1-z1")] == 1
    assert samples[("tocsin_target_up", "v1-z2")] == 0
    # Unknown targets have no sample; flapping ones have their own series.
    assert ("tocsin_target_up", "v2-z2") not in samples
    assert ("tocsin_target_up", "v2-z1") not in samples
    assert samples[("tocsin_target_flapping", "v2-z1")] == 1
    assert samples[("tocsin_target_expected_off", "v3-z1")] == 1


def test_status_page_lists_problems_and_filters(client: TestClient) -> None:
    page = client.get("/").text
    problems = page.split('id="problems"')[1].split("</table>")[0]
    assert "v1-z2" in problems
    assert "v2-z1" in problems
    assert "v1-z1" not in problems
    filtered = client.get("/", params={"state": "expected_off"}).text
    targets = filtered.split('id="targets"')[1]
    assert "v3-z1" in targets
    assert "v1-z1" not in targets
    assert client.get("/", params={"state": "bogus"}).status_code == 400


def test_openapi_documents_fleet_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/tocsin/v1/targets" in paths
    assert "/api/tocsin/v1/targets/{target_id}" in paths


def test_events_pass_their_filters(client: TestClient, engine: FakeEngine) -> None:
    params = {"source": "vendor", "target": "v1-z2", "kind": "target", "since": 5, "before_id": 9}
    resp = client.get("/api/tocsin/v1/events", params=params)
    assert resp.json() == {"events": []}
    assert engine.event_queries == [
        {"source": "vendor", "target_id": "v1-z2", "kind": "target", "since": 5.0}
        | {"before_id": 9, "limit": 100}
    ]


@pytest.mark.parametrize("params", [{"limit": 0}, {"since": "yesterday"}, {"before_id": 0}])
def test_events_bad_parameters_are_4xx(client: TestClient, params: dict[str, object]) -> None:
    resp = client.get("/api/tocsin/v1/events", params=params)  # type: ignore[arg-type]
    assert resp.status_code == 422
