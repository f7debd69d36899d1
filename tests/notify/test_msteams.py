from __future__ import annotations

import pytest

from tocsin.errors import ConfigError
from tocsin.notify import msteams
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.types import DeliveryFailure

from .fakes import FakeTeams, check_teams_message
from .support import alert, notification

PATH = "/workflows/abc123/triggers/manual/paths/invoke?api-version=1&sig=s3cret"


async def test_posts_adaptive_card_to_workflow(deps: IntegrationDeps) -> None:
    async with FakeTeams() as teams:
        integ = msteams.build({"webhook_url": teams.url + PATH}, deps)
        result = await integ.notify(notification())
        await integ.notify(notification(alert(zone="lobby", status="resolved")))
        await integ.aclose()
    assert teams.problems == []
    assert result.status_code == 202
    firing, resolved = (r.json for r in teams.requests)
    card = firing["attachments"][0]["content"]
    assert card["version"] == "1.4"
    title = card["body"][0]
    assert title["text"] == "[msteamsv2.default.title:FIRING:1]"
    assert title["color"] == "Attention"
    assert resolved["attachments"][0]["content"]["body"][0]["color"] == "Good"
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert {"title": "zone", "value": "lobby"} in facts
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open", "url": "http://tocsin.local"}
    ]


async def test_power_platform_url(deps: IntegrationDeps) -> None:
    async with FakeTeams() as teams:
        url = teams.url + "/powerautomate/automations/direct" + PATH
        integ = msteams.build({"webhook_url": url}, deps)
        await integ.notify(notification())
        await integ.aclose()
    assert teams.problems == []
    assert teams.last.query["sig"] == "s3cret"


def test_card_validates_with_no_labels_or_url() -> None:
    n = notification()
    body = msteams.adaptive_card(type(n)(receiver="r", group_key="g", alerts=n.alerts), "t", "", "")
    assert check_teams_message(body) == []
    assert "actions" not in body["attachments"][0]["content"]


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (429, True), (502, True)])
async def test_errors(deps: IntegrationDeps, status: int, retryable: bool) -> None:
    async with FakeTeams() as teams:
        teams.script(status, {"error": {"code": "x", "message": "y"}})
        integ = msteams.build({"webhook_url": teams.url + PATH}, deps)
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(notification())
        await integ.aclose()
    assert err.value.retryable is retryable
    assert "s3cret" not in str(err.value)


async def test_unsigned_url_is_refused_permanently(deps: IntegrationDeps) -> None:
    async with FakeTeams() as teams:
        integ = msteams.build({"webhook_url": teams.url + PATH.split("&sig")[0]}, deps)
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(notification())
        await integ.aclose()
    assert err.value.status_code == 401
    assert not err.value.retryable


def test_requires_url(deps: IntegrationDeps) -> None:
    with pytest.raises(ConfigError, match="webhook_url"):
        msteams.build({"title": "x"}, deps)


async def test_msteams_kind_uses_its_own_default_templates(deps: IntegrationDeps) -> None:
    from tocsin.notify import registry

    async with FakeTeams() as teams:
        integ = registry.build_integration("msteams", {"webhook_url": teams.url + PATH}, deps)
        await integ.notify(notification())
        await integ.aclose()
    assert integ.kind == "msteams"
    assert teams.problems == []
    texts = [b.get("text") for b in teams.last.json["attachments"][0]["content"]["body"]]
    assert texts[:3] == [
        "[msteams.default.title:FIRING:1]",
        "[msteams.default.summary:FIRING:1]",
        "[msteams.default.text:FIRING:1]",
    ]
