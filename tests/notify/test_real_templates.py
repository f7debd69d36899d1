"""Every integration with its default fields, rendered by the real template engine.

This is the adapter the lead wires in production: `notification_renderer`
over Alertmanager's default templates, for text and (email) HTML.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator

import pytest

from tocsin.clock import FakeClock
from tocsin.notify import registry
from tocsin.notify.deps import IntegrationDeps
from tocsin.templating.alertmanager import alertmanager_template_set, notification_renderer

from .fakes import FakeOpsgenie, FakePagerDuty, FakeSlack, FakeTeams
from .smtp_server import SmtpServer
from .support import alert, notification


@pytest.fixture
async def real(clock: FakeClock) -> AsyncIterator[IntegrationDeps]:
    tset = alertmanager_template_set(clock=clock)
    deps = IntegrationDeps(
        render=notification_renderer(tset),
        render_html=notification_renderer(tset, html=True),
        clock=clock,
        hostname="tocsin.test",
    )
    yield deps
    await deps.aclose()


def two_zones():
    return notification(
        alert(zone="lobby", severity="critical"), alert(zone="bar", severity="critical")
    )


async def test_slack_defaults(real: IntegrationDeps) -> None:
    async with FakeSlack() as fake:
        integ = registry.build_integration(
            "slack", {"app_token": "xoxb-test-token", "app_url": fake.url + "/api/chat.postMessage",
                      "channel": "#alerts"}, real)  # fmt: skip
        await integ.notify(two_zones())
        await integ.aclose()
    assert fake.problems == []
    body = fake.last.json
    assert body["text"].startswith("Firing: ZoneDown [venue=v1] (2 alerts)")
    assert body["attachments"][0]["color"] == "danger"


async def test_pagerduty_defaults(real: IntegrationDeps) -> None:
    async with FakePagerDuty() as pd:
        integ = registry.build_integration(
            "pagerduty", {"routing_key": "R" * 32, "url": pd.url + "/v2/enqueue"}, real
        )
        await integ.notify(two_zones())
        await integ.aclose()
    assert pd.problems == []
    p = pd.events[0]["payload"]
    assert p["summary"] == "Firing: ZoneDown [venue=v1] (2 alerts)"
    assert p["severity"] == "critical"
    assert p["custom_details"]["num_firing"] == "2"
    assert "zone=lobby" in p["custom_details"]["firing"]


async def test_opsgenie_defaults(real: IntegrationDeps) -> None:
    async with FakeOpsgenie() as og:
        integ = registry.build_integration(
            "opsgenie", {"api_key": "og-test-key", "api_url": og.url + "/"}, real
        )
        await integ.notify(two_zones())
        await integ.aclose()
    assert og.problems == []
    body = og.requests[0].json
    assert body["message"]
    assert len(body["message"]) <= 130


async def test_teams_defaults(real: IntegrationDeps) -> None:
    async with FakeTeams() as teams:
        url = teams.url + "/workflows/x/triggers/manual/paths/invoke?sig=s"
        integ = registry.build_integration("msteamsv2", {"webhook_url": url}, real)
        await integ.notify(two_zones())
        await integ.aclose()
    assert teams.problems == []


async def test_email_defaults_are_html_escaped(real: IntegrationDeps) -> None:
    n = notification(alert(zone="<lobby>"))
    with SmtpServer() as server:
        integ = registry.build_integration(
            "email",
            {"to": "a@x.org", "from": "b@x.org", "smarthost": server.smarthost,
             "require_tls": False},
            real,
        )  # fmt: skip
        await integ.notify(n)
    msg = email.message_from_bytes(server.handler.received[0].data, policy=email.policy.default)
    assert msg["Subject"] == "Firing: ZoneDown [venue=v1]"
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;lobby&gt;" in html
    assert "<lobby>" not in html
