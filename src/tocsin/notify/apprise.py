"""Apprise: any Apprise URL (Telegram, Discord, ntfy, Twilio SMS, ...).

Not an Alertmanager receiver kind: tocsin reads `apprise_configs` entries of
a receiver. Apprise sends synchronously, so the call runs in a worker thread.
Apprise does not say why a service failed in a machine-readable way, so a
failure is treated as retryable and the deadline bounds the retries.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import apprise

from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.fields import parse_config, problem, render_text
from tocsin.notify.types import DeliveryFailure, DeliveryResult, Notification, Render


@dataclass(slots=True)
class AppriseConfig:
    """apprise_configs fields (tocsin's own)."""

    urls: list[str] = field(default_factory=list)
    title: str = '{{ template "__subject" . }}'
    body: str = '{{ template "__text_alert_list" .Alerts }}'
    body_format: str = "text"
    send_resolved: bool = True
    timeout: float = 0.0


def notify_type(n: Notification) -> apprise.NotifyType:
    if n.status == "resolved":
        return apprise.NotifyType.SUCCESS
    return apprise.NotifyType.WARNING if n.acknowledged_by else apprise.NotifyType.FAILURE


class AppriseIntegration:
    kind = "apprise"

    def __init__(self, config: AppriseConfig, deps: IntegrationDeps, where: str) -> None:
        if not config.urls:
            raise problem(where, "urls", "at least one Apprise URL is required")
        if config.body_format not in ("text", "markdown", "html"):
            raise problem(where, "body_format", "must be text, markdown or html")
        self.apprise = apprise.Apprise()
        for i, url in enumerate(config.urls):
            if not self.apprise.add(url):
                # Never echo the URL: it usually carries a token.
                raise problem(where, f"urls[{i}]", "not a URL Apprise understands")
        self.config = config
        self.render: Render = deps.render
        self.send_resolved = config.send_resolved
        self.timeout = config.timeout or None

    async def notify(self, n: Notification) -> DeliveryResult:
        c = self.config
        title = render_text(self.render, c.title, n, "apprise", "title").strip()
        body = render_text(self.render, c.body, n, "apprise", "body").strip() or title
        result = await asyncio.to_thread(
            self.apprise.notify,
            body=body or n.status,
            title=title,
            notify_type=notify_type(n),
            body_format=c.body_format,
        )
        if result:
            return DeliveryResult(detail=f"{len(result)} service(s)")
        failed = [r for r in result.results if not r]
        errors = [e.message for r in failed for e in r.logs() if e.level in ("ERROR", "WARNING")]
        names = ", ".join(str(r.name) for r in failed) or "no service matched"
        why = "; ".join(errors[-3:])
        raise DeliveryFailure(
            f"apprise: {len(failed)} of {len(result)} service(s) failed ({names})"
            + (f": {why}" if why else ""),
            retryable=True,
        )

    async def aclose(self) -> None:
        return None


def build(data: Any, deps: IntegrationDeps, where: str = "apprise_configs") -> AppriseIntegration:
    return AppriseIntegration(parse_config(AppriseConfig, data, where), deps, where)
