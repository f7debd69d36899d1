"""Generic webhook: Alertmanager's webhook payload, version 4."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.fields import parse_config, problem, read_secret, render_text
from tocsin.notify.http import check_status, make_client, send
from tocsin.notify.timefmt import rfc3339
from tocsin.notify.types import DeliveryResult, Notification, Render

PAYLOAD_VERSION = "4"


@dataclass(slots=True)
class WebhookConfig:
    url: str | None = None
    url_file: str | None = None
    send_resolved: bool = True
    max_alerts: int = 0
    http_config: dict[str, Any] = field(default_factory=dict)
    timeout: float = 0.0
    payload: Any = None


def webhook_payload(n: Notification, max_alerts: int = 0) -> dict[str, Any]:
    """The JSON body Alertmanager posts, with at most `max_alerts` alerts (0: all)."""
    alerts = list(n.alerts)
    cut = 0
    if max_alerts > 0 and len(alerts) > max_alerts:
        cut = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "version": PAYLOAD_VERSION,
        "groupKey": n.group_key,
        "truncatedAlerts": n.truncated + cut,
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": dict(n.group_labels),
        "commonLabels": dict(n.common_labels),
        "commonAnnotations": dict(n.common_annotations),
        "externalURL": n.external_url,
        "alerts": [
            {
                "status": a.status,
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(a.ends_at),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in alerts
        ],
    }


def render_payload(value: Any, render: Render, n: Notification, where: str = "payload") -> Any:
    """A custom `payload`: every string in the structure is a template."""
    if isinstance(value, str):
        return render_text(render, value, n, "webhook", where)
    if isinstance(value, dict):
        return {k: render_payload(v, render, n, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render_payload(v, render, n, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


class WebhookIntegration:
    kind = "webhook"

    def __init__(self, config: WebhookConfig, deps: IntegrationDeps, where: str) -> None:
        if not (config.url or config.url_file):
            raise problem(where, "url", "one of url or url_file is required")
        if config.url and config.url_file:
            raise problem(where, "url", "url and url_file are mutually exclusive")
        if config.max_alerts < 0:
            raise problem(where, "max_alerts", "must not be negative")
        if config.payload is not None and not isinstance(config.payload, str | dict | list):
            raise problem(where, "payload", "must be a template string, a mapping or a list")
        self.config = config
        self.render = deps.render
        self.send_resolved = config.send_resolved
        self.timeout = config.timeout or None
        self._client = make_client(
            config.http_config, session=deps.http, timeout=deps.http_timeout, where=where
        )

    async def notify(self, n: Notification) -> DeliveryResult:
        url = read_secret(self.config.url, self.config.url_file, "webhook", "url")
        if isinstance(self.config.payload, str):
            # One template producing the whole body, sent as it renders.
            raw = render_text(self.render, self.config.payload, n, "webhook", "payload")
            headers = {"Content-Type": "application/json"}
            resp = await send(self._client, "POST", url, "webhook", content=raw, headers=headers)
        else:
            if self.config.payload is not None:
                body = render_payload(self.config.payload, self.render, n)
            else:
                body = webhook_payload(n, self.config.max_alerts)
            resp = await send(self._client, "POST", url, "webhook", json=body)
        check_status(resp, "webhook")
        return DeliveryResult(status_code=resp.status_code)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to the receivers set."""


def build(data: Any, deps: IntegrationDeps, where: str = "webhook_configs") -> WebhookIntegration:
    return WebhookIntegration(parse_config(WebhookConfig, data, where), deps, where)
