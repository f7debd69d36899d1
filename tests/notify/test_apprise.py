from __future__ import annotations

import pytest

from tests.support import free_port
from tocsin.errors import ConfigError
from tocsin.notify import apprise as apprise_notify
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.types import DeliveryFailure

from .fakes import FakeApprise
from .support import alert, notification


def json_url(fake: FakeApprise, path: str = "hook") -> str:
    return fake.url.replace("http://", "json://") + "/" + path


async def test_json_url_gets_title_body_and_type(deps: IntegrationDeps) -> None:
    async with FakeApprise() as fake:
        integ = apprise_notify.build(
            {"urls": [json_url(fake)], "title": "{{ .Status }} {{ .CommonLabels.zone }}",
             "body": "zone {{ .CommonLabels.zone }} is down"},
            deps,
        )  # fmt: skip
        result = await integ.notify(notification())
        await integ.notify(notification(alert(zone="lobby", status="resolved")))
    assert fake.problems == []
    assert result.detail == "1 service(s)"
    firing, resolved = (r.json for r in fake.requests)
    assert firing["title"] == "firing lobby"
    assert firing["message"] == "zone lobby is down"
    assert firing["type"] == "failure"
    assert resolved["type"] == "success"
    assert fake.requests[0].path == "/hook"


async def test_form_url(deps: IntegrationDeps) -> None:
    async with FakeApprise() as fake:
        url = fake.url.replace("http://", "form://") + "/f"
        integ = apprise_notify.build({"urls": [url], "title": "t", "body": "b"}, deps)
        await integ.notify(notification())
    assert fake.problems == []
    rec = fake.requests[0]
    assert not rec.headers["Content-Type"].startswith("application/json")
    assert rec.json["message"] == "b"
    assert rec.json["title"] == "t"


async def test_failure_is_retryable_and_names_service(deps: IntegrationDeps) -> None:
    async with FakeApprise() as fake:
        fake.script(500, "boom")
        integ = apprise_notify.build({"urls": [json_url(fake)], "title": "t", "body": "b"}, deps)
        with pytest.raises(DeliveryFailure, match="1 of 1 service") as err:
            await integ.notify(notification())
    assert err.value.retryable


async def test_unreachable_service_fails(deps: IntegrationDeps) -> None:
    url = f"json://127.0.0.1:{free_port()}/x"
    integ = apprise_notify.build({"urls": [url], "title": "t", "body": "b"}, deps)
    with pytest.raises(DeliveryFailure):
        await integ.notify(notification())


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({}, "urls"),
        ({"urls": ["notaservice://x"]}, "urls[0]"),
        ({"urls": ["json://127.0.0.1/"], "body_format": "rtf"}, "body_format"),
    ],
)
def test_bad_config(deps: IntegrationDeps, cfg: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        apprise_notify.build(cfg, deps)
    assert err.value.problems[0].field == field
    assert "notaservice" not in str(err.value)
