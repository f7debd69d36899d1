from __future__ import annotations

from typing import Any

import pytest

from tocsin.errors import ConfigError
from tocsin.notify import pagerduty
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.types import DeliveryFailure, group_hash

from .fakes import FakePagerDuty
from .support import alert, notification

ROUTING_KEY = "R0123456789abcdef0123456789abcde"


def config(fake: FakePagerDuty, **extra: Any) -> dict[str, Any]:
    return {"routing_key": ROUTING_KEY, "url": fake.url + "/v2/enqueue", **extra}


async def test_trigger_acknowledge_resolve_one_incident(deps: IntegrationDeps) -> None:
    async with FakePagerDuty() as pd:
        integ = pagerduty.build(config(pd), deps)
        firing = notification(alert(zone="lobby", severity="critical"))
        results = [
            await integ.notify(firing),
            await integ.notify(notification(alert(zone="lobby"), acknowledged_by="ana")),
            await integ.notify(notification(alert(zone="lobby", status="resolved"))),
        ]
        await integ.aclose()
    assert pd.problems == []
    assert [r.status_code for r in results] == [202, 202, 202]
    assert [e["event_action"] for e in pd.events] == ["trigger", "acknowledge", "resolve"]
    keys = {e["dedup_key"] for e in pd.events}
    assert keys == {group_hash(firing.group_key)}
    assert pd.incidents == {group_hash(firing.group_key): "resolved"}


async def test_dedup_key_is_stable_and_distinct_per_group() -> None:
    assert group_hash("g1") == group_hash("g1")
    assert group_hash("g1") != group_hash("g2")
    assert len(group_hash("x" * 10_000)) == 64


async def test_trigger_payload_fields(deps: IntegrationDeps) -> None:
    async with FakePagerDuty() as pd:
        cfg = config(
            pd,
            description="{{ .CommonLabels.alertname }} " + "d" * 2000,
            source="{{ .CommonLabels.zone }}",
            component="player",
            group="{{ .GroupLabels.venue }}",
            **{"class": "availability"},
            details={"zone": "{{ .CommonLabels.zone }}", "firing": "{{ .Alerts.Firing | len }}"},
            links=[{"href": "{{ .ExternalURL }}", "text": "tocsin"}],
            images=[{"src": "http://img/x.png", "alt": "graph", "href": ""}],
        )
        integ = pagerduty.build(cfg, deps)
        await integ.notify(notification(alert(zone="lobby", severity="warning")))
        await integ.aclose()
    assert pd.problems == []
    event = pd.events[0]
    p = event["payload"]
    assert len(p["summary"]) == 1024
    assert p["summary"].startswith("ZoneDown ddd")
    assert p["source"] == "lobby"
    assert p["severity"] == "warning"
    assert (p["component"], p["group"], p["class"]) == ("player", "v1", "availability")
    assert p["custom_details"] == {"zone": "lobby", "firing": "1"}
    assert p["timestamp"] == "2023-11-14T22:13:20.5Z"
    assert event["links"] == [{"href": "http://tocsin.local", "text": "tocsin"}]
    assert event["images"] == [{"src": "http://img/x.png", "alt": "graph"}]
    assert event["client"] == "[pagerduty.default.client:FIRING:1]"


@pytest.mark.parametrize(
    ("configured", "label", "want"),
    [
        ("", "critical", "critical"),
        ("", "warning", "warning"),
        ("", "page", "critical"),
        ("", "P3", "warning"),
        ("", None, "error"),
        ("", "weird", "error"),
        ("info", "critical", "info"),
        ("{{ .CommonLabels.severity }}", "warn", "warning"),
    ],
)
async def test_severity_mapping(
    deps: IntegrationDeps, configured: str, label: str | None, want: str
) -> None:
    labels = {"zone": "lobby"} if label is None else {"zone": "lobby", "severity": label}
    async with FakePagerDuty() as pd:
        integ = pagerduty.build(config(pd, severity=configured), deps)
        await integ.notify(notification(alert(**labels)))
        await integ.aclose()
    assert pd.problems == []
    assert pd.events[0]["payload"]["severity"] == want


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (400, {"status": "invalid event", "message": "Event object is invalid"}, False),
        (
            429,
            {"status": "throttle", "message": "Requests for this service are arriving too quickly"},
            True,
        ),
        (500, "", True),
        (502, "", True),
        (403, "", False),
    ],
)
async def test_answers_decide_retry(
    deps: IntegrationDeps, status: int, body: Any, retryable: bool
) -> None:
    async with FakePagerDuty() as pd:
        pd.script(status, body)
        integ = pagerduty.build(config(pd), deps)
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(notification())
        await integ.aclose()
    assert err.value.retryable is retryable
    assert err.value.status_code == status


async def test_invalid_routing_key_gets_the_400_from_the_service(deps: IntegrationDeps) -> None:
    async with FakePagerDuty() as pd:
        integ = pagerduty.build({**config(pd), "routing_key": "short"}, deps)
        with pytest.raises(DeliveryFailure, match="routing_key must be") as err:
            await integ.notify(notification())
        await integ.aclose()
    assert not err.value.retryable


async def test_v1_service_key(deps: IntegrationDeps) -> None:
    async with FakePagerDuty() as pd:
        url = pd.url + "/generic/2010-04-15/create_event.json"
        integ = pagerduty.build({"service_key": "svc", "url": url}, deps)
        n = notification()
        await integ.notify(n)
        await integ.notify(notification(alert(zone="lobby", status="resolved")))
        pd.script(403, "")
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(n)
        await integ.aclose()
    assert pd.problems == []
    assert [(e["event_type"], e["incident_key"]) for e in pd.events] == [
        ("trigger", group_hash(n.group_key)),
        ("resolve", group_hash(n.group_key)),
    ]
    assert err.value.retryable


@pytest.mark.parametrize(
    "cfg",
    [{}, {"routing_key": "a", "service_key": "b"}, {"routing_key": "a", "severity": 3}],
)
def test_bad_config(deps: IntegrationDeps, cfg: dict) -> None:
    with pytest.raises(ConfigError):
        pagerduty.build(cfg, deps)
