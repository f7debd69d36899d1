"""/api/v1/rules and /api/v1/alerts over a real socket, in Prometheus's format."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.rules.helpers import RecordingSink, groups
from tests.support import serve_app
from tocsin.api.rulesapi import make_rules_router
from tocsin.clock import FakeClock
from tocsin.promql import Engine, MemStore
from tocsin.rules.manager import RuleManager

T0 = 1_700_000_000.0
RULES = """
groups:
  - name: fleet
    interval: 30s
    rules:
      - record: venue:up:sum
        expr: sum by (venue) (up)
      - alert: ZoneDown
        expr: up == 0
        for: 1m
        labels: {severity: page}
        annotations: {summary: '{{ $labels.zone }} down'}
      - alert: Broken
        expr: up + on() group_left up
"""


async def _manager() -> RuleManager:
    store, clock = MemStore(), FakeClock(T0)
    m = RuleManager(groups(RULES), Engine(), store, RecordingSink(), clock, restore=False)
    for i in range(3):
        t = T0 + 30 * i
        clock.set(t)
        store.append({"__name__": "up", "venue": "v", "zone": "z1"}, round(t * 1000), 0)
        store.append({"__name__": "up", "venue": "v", "zone": "z2"}, round(t * 1000), 1)
        await m.evaluate_all(t)
    return m


async def test_rules_endpoint_lists_groups_rules_and_alerts() -> None:
    app = FastAPI()
    app.include_router(make_rules_router(await _manager()))
    async with serve_app(app) as base, httpx.AsyncClient(base_url=base) as client:
        body = (await client.get("/api/v1/rules")).json()
        assert body["status"] == "success"
        [g] = body["data"]["groups"]
        assert (g["name"], g["file"], g["interval"], g["limit"]) == ("fleet", "rules.yml", 30, 0)
        assert g["lastEvaluation"] == "2023-11-14T22:14:20Z"
        rec, down, broken = g["rules"]
        assert rec == {
            "name": "venue:up:sum",
            "query": "sum by (venue) (up)",
            "labels": {},
            "health": "ok",
            "evaluationTime": rec["evaluationTime"],
            "lastEvaluation": "2023-11-14T22:14:20Z",
            "type": "recording",
        }
        assert down["type"] == "alerting"
        assert (down["state"], down["duration"], down["keepFiringFor"]) == ("firing", 60, 0)
        assert down["annotations"] == {"summary": "{{ $labels.zone }} down"}
        assert down["alerts"] == [
            {
                "labels": {"alertname": "ZoneDown", "severity": "page", "venue": "v", "zone": "z1"},
                "annotations": {"summary": "z1 down"},
                "state": "firing",
                "activeAt": "2023-11-14T22:13:20Z",
                "value": "0e+00",
            }
        ]
        assert broken["health"] == "err"
        assert "many-to-many" in broken["lastError"] or "duplicate" in broken["lastError"]
        assert broken["state"] == "inactive"

        only_rec = (await client.get("/api/v1/rules", params={"type": "record"})).json()
        assert [r["type"] for r in only_rec["data"]["groups"][0]["rules"]] == ["recording"]
        only_alert = (
            await client.get("/api/v1/rules", params={"type": "alert", "exclude_alerts": "true"})
        ).json()
        rules = only_alert["data"]["groups"][0]["rules"]
        assert [r["name"] for r in rules] == ["ZoneDown", "Broken"]
        assert all("alerts" not in r for r in rules)
        bad = await client.get("/api/v1/rules", params={"type": "nope"})
        assert bad.status_code == 400
        assert bad.json()["errorType"] == "bad_data"

        # match[] selects rules by their labels (Prometheus 3); none matching: no group.
        async def matched(*selectors: str) -> list[str]:
            got = await client.get("/api/v1/rules", params=[("match[]", s) for s in selectors])
            assert got.status_code == 200, got.text
            return [r["name"] for g in got.json()["data"]["groups"] for r in g["rules"]]

        assert await matched('{severity="page"}') == ["ZoneDown"]
        assert await matched('{severity="ticket"}', '{severity=~"p.*"}') == ["ZoneDown"]
        assert await matched('{severity="ticket"}') == []
        for selector in ("up(", '{severity=""}'):
            bad = await client.get("/api/v1/rules", params={"match[]": selector})
            assert bad.status_code == 400
            assert bad.json()["errorType"] == "bad_data"

        alerts = (await client.get("/api/v1/alerts")).json()
        assert [a["labels"]["zone"] for a in alerts["data"]["alerts"]] == ["z1"]


async def test_rules_endpoint_without_manager_is_empty() -> None:
    app = FastAPI()
    app.include_router(make_rules_router(lambda: None))
    async with serve_app(app) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/api/v1/rules")).json()["data"] == {"groups": []}
        assert (await client.get("/api/v1/alerts")).json()["data"] == {"alerts": []}
