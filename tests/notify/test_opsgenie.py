from __future__ import annotations

from typing import Any

import pytest

from tocsin.errors import ConfigError
from tocsin.notify import opsgenie
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.types import DeliveryFailure, group_hash

from .fakes import FakeOpsgenie
from .support import alert, notification

KEY = "og-test-key"


def config(fake: FakeOpsgenie, **extra: Any) -> dict[str, Any]:
    return {"api_key": KEY, "api_url": fake.url + "/", **extra}


async def test_create_then_close_by_alias(deps: IntegrationDeps) -> None:
    async with FakeOpsgenie() as og:
        integ = opsgenie.build(
            config(
                og,
                message="{{ .CommonLabels.alertname }} " + "m" * 200,
                priority="P1",
                tags="fleet, {{ .GroupLabels.venue }} ,",
                responders=[
                    {"type": "team", "name": "venue-it"},
                    {"type": "teams", "name": "ops,support"},
                    {"type": "user", "username": "ana@example.com"},
                ],
                details={"runbook": "http://rb"},
                entity="{{ .CommonLabels.zone }}",
                note="n",
                actions="Restart, Ping",
            ),
            deps,
        )
        n = notification()
        await integ.notify(n)
        await integ.notify(notification(alert(zone="lobby", status="resolved")))
        await integ.aclose()
    assert og.problems == []
    alias = group_hash(n.group_key)
    create, close = og.requests
    assert create.path == "/v2/alerts"
    assert create.headers["Authorization"] == f"GenieKey {KEY}"
    body = create.json
    assert body["alias"] == alias
    assert len(body["message"]) == 130
    assert body["message"].endswith("\u2026")
    assert body["priority"] == "P1"
    assert body["tags"] == ["fleet", "v1"]
    assert body["actions"] == ["Restart", "Ping"]
    assert body["entity"] == "lobby"
    assert body["responders"] == [
        {"type": "team", "name": "venue-it"},
        {"type": "team", "name": "ops"},
        {"type": "team", "name": "support"},
        {"type": "user", "username": "ana@example.com"},
    ]
    assert body["details"]["runbook"] == "http://rb"
    assert body["details"]["zone"] == "lobby"  # common labels are included
    assert close.path == f"/v2/alerts/{alias}/close"
    assert close.query == {"identifierType": "alias"}
    assert og.alerts[alias]["status"] == "closed"


async def test_repeat_create_deduplicates_and_update_alerts(deps: IntegrationDeps) -> None:
    async with FakeOpsgenie() as og:
        integ = opsgenie.build(config(og, update_alerts=True, message="{{ .Status }} msg"), deps)
        await integ.notify(notification())
        await integ.notify(notification(alert(zone="lobby"), alert(zone="bar")))
        await integ.aclose()
    assert og.problems == []
    [state] = og.alerts.values()
    assert state["count"] == 2
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in og.requests] == [
        ("POST", "alerts"),
        ("PUT", "message"),
        ("PUT", "description"),
        ("POST", "alerts"),
        ("PUT", "message"),
        ("PUT", "description"),
    ]
    assert state["body"]["message"] == "firing msg"


async def test_acknowledge(deps: IntegrationDeps) -> None:
    async with FakeOpsgenie() as og:
        integ = opsgenie.build(config(og), deps)
        await integ.notify(notification())
        await integ.notify(notification(acknowledged_by="ana"))
        await integ.aclose()
    [state] = og.alerts.values()
    assert state["acknowledged"] is True
    assert og.last.json["user"] == "ana"


@pytest.mark.parametrize(
    ("status", "retryable"), [(401, False), (422, False), (429, True), (500, True), (503, True)]
)
async def test_error_answers(deps: IntegrationDeps, status: int, retryable: bool) -> None:
    async with FakeOpsgenie() as og:
        og.script(status, {"message": "no", "took": 0.0, "requestId": "r"})
        integ = opsgenie.build(config(og), deps)
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(notification())
        await integ.aclose()
    assert err.value.retryable is retryable


async def test_wrong_key_is_permanent(deps: IntegrationDeps) -> None:
    async with FakeOpsgenie(api_key="other") as og:
        integ = opsgenie.build(config(og), deps)
        with pytest.raises(DeliveryFailure, match="401") as err:
            await integ.notify(notification())
        await integ.aclose()
    assert not err.value.retryable


async def test_bad_rendered_priority_is_permanent(deps: IntegrationDeps) -> None:
    integ = opsgenie.build({"api_key": "k", "priority": "{{ .CommonLabels.severity }}"}, deps)
    with pytest.raises(DeliveryFailure, match="priority 'critical'") as err:
        await integ.notify(notification())
    await integ.aclose()
    assert not err.value.retryable


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({}, "api_key"),
        ({"api_key": "k", "responders": [{"type": "robot", "name": "x"}]}, "responders[0].type"),
        ({"api_key": "k", "responders": [{"type": "team"}]}, "responders[0]"),
        ({"api_key": "k", "tags": ["a"]}, "tags"),
    ],
)
def test_bad_config(deps: IntegrationDeps, cfg: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        opsgenie.build(cfg, deps)
    assert err.value.problems[0].field == field
