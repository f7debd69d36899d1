"""Microsoft Teams through a Workflows (Power Automate) webhook: an Adaptive Card.

The `msteams` kind (old Office 365 connectors, now retired by Microsoft) and
`msteamsv2` send the same card: the "message with attachments" shape is what
Workflows' "post to a channel when a webhook request is received" expects,
and connectors accepted it as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.fields import parse_config, problem, read_secret, render_text
from tocsin.notify.http import check_status, make_client, send
from tocsin.notify.types import DeliveryResult, Notification

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"


@dataclass(slots=True)
class TeamsConfig:
    """msteams_configs / msteamsv2_configs fields; defaults are Alertmanager's."""

    webhook_url: str | None = None
    webhook_url_file: str | None = None
    title: str = '{{ template "msteamsv2.default.title" . }}'
    summary: str = ""
    text: str = '{{ template "msteamsv2.default.text" . }}'
    send_resolved: bool = True
    http_config: dict[str, Any] = field(default_factory=dict)
    timeout: float = 0.0


def adaptive_card(n: Notification, title: str, text: str, summary: str = "") -> dict[str, Any]:
    """The message body for a Workflows webhook carrying one Adaptive Card."""
    firing = n.status == "firing"
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": title or n.status.upper(),
            "weight": "Bolder",
            "size": "Large",
            "wrap": True,
            "style": "heading",
            "color": "Attention" if firing else "Good",
        }
    ]
    if summary:
        body.append({"type": "TextBlock", "text": summary, "wrap": True, "isSubtle": True})
    if text:
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    if n.common_labels:
        facts = [{"title": k, "value": v} for k, v in sorted(n.common_labels.items())]
        body.append({"type": "FactSet", "facts": facts})
    if n.acknowledged_by:
        body.append(
            {"type": "TextBlock", "text": f"Acknowledged by {n.acknowledged_by}", "wrap": True}
        )
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if n.external_url:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": n.external_url}]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": content}],
    }


class TeamsIntegration:
    kind = "msteamsv2"

    def __init__(self, config: TeamsConfig, deps: IntegrationDeps, where: str) -> None:
        if not (config.webhook_url or config.webhook_url_file):
            raise problem(
                where, "webhook_url", "one of webhook_url or webhook_url_file is required"
            )
        if config.webhook_url and config.webhook_url_file:
            raise problem(
                where, "webhook_url", "webhook_url and webhook_url_file exclude each other"
            )
        self.config = config
        self.render = deps.render
        self.send_resolved = config.send_resolved
        self.timeout = config.timeout or None
        self._client = make_client(
            config.http_config, session=deps.http, timeout=deps.http_timeout, where=where
        )

    def _r(self, text: str, n: Notification, name: str) -> str:
        return render_text(self.render, text, n, "msteams", name).strip()

    async def notify(self, n: Notification) -> DeliveryResult:
        c = self.config
        url = read_secret(c.webhook_url, c.webhook_url_file, "msteams", "webhook_url")
        card = adaptive_card(
            n,
            self._r(c.title, n, "title"),
            self._r(c.text, n, "text"),
            self._r(c.summary, n, "summary"),
        )
        resp = await send(self._client, "POST", url, "msteams", json=card)
        check_status(resp, "msteams")
        return DeliveryResult(status_code=resp.status_code)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to the receivers set."""


def build(data: Any, deps: IntegrationDeps, where: str = "msteamsv2_configs") -> TeamsIntegration:
    return TeamsIntegration(parse_config(TeamsConfig, data, where), deps, where)


def build_v1(data: Any, deps: IntegrationDeps, where: str = "msteams_configs") -> TeamsIntegration:
    """`msteams_configs`: same card, with Alertmanager's msteams default templates."""
    config = parse_config(TeamsConfig, data, where)
    given = data if isinstance(data, dict) else {}
    for name in ("title", "summary", "text"):
        if given.get(name) is None:
            setattr(config, name, f'{{{{ template "msteams.default.{name}" . }}}}')
    integration = TeamsIntegration(config, deps, where)
    integration.kind = "msteams"
    return integration
