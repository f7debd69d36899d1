"""PagerDuty Events API v2 (and the v1 generic API for `service_key`).

One PagerDuty incident per aggregation group: the dedup_key is a hash of the
group key, so trigger, acknowledge and resolve always hit the same incident,
across restarts and across tocsin processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.fields import parse_config, problem, read_secret, render_text, truncate
from tocsin.notify.http import check_status, make_client, send
from tocsin.notify.timefmt import rfc3339
from tocsin.notify.types import DeliveryFailure, DeliveryResult, Notification, Render, group_hash

EVENTS_V2_URL = "https://events.pagerduty.com/v2/enqueue"
EVENTS_V1_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
SUMMARY_LIMIT = 1024
SEVERITIES = ("critical", "error", "warning", "info")
# Common spellings of severity labels, mapped onto PagerDuty's four levels.
SEVERITY_ALIASES = {
    "critical": "critical", "crit": "critical", "page": "critical", "fatal": "critical",
    "emergency": "critical", "p1": "critical",
    "error": "error", "err": "error", "major": "error", "high": "error", "p2": "error",
    "warning": "warning", "warn": "warning", "minor": "warning", "medium": "warning",
    "p3": "warning",
    "info": "info", "informational": "info", "notice": "info", "low": "info", "none": "info",
    "debug": "info", "p4": "info", "p5": "info",
}  # fmt: skip
DEFAULT_SEVERITY = "error"


def map_severity(value: str) -> str:
    """PagerDuty severity for a label value; unknown or empty gives `error`."""
    return SEVERITY_ALIASES.get(value.strip().lower(), DEFAULT_SEVERITY)


@dataclass(slots=True)
class PagerDutyConfig:
    """pagerduty_configs fields; defaults are Alertmanager's except `severity`.

    An empty `severity` (the default) takes the alerts' common `severity`
    label; either way the value is mapped onto critical/error/warning/info.
    """

    routing_key: str | None = None
    routing_key_file: str | None = None
    service_key: str | None = None
    service_key_file: str | None = None
    url: str = ""
    client: str = '{{ template "pagerduty.default.client" . }}'
    client_url: str = '{{ template "pagerduty.default.clientURL" . }}'
    description: str = '{{ template "pagerduty.default.description" .}}'
    details: dict[str, str] = field(
        default_factory=lambda: {
            "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
            "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
            "num_firing": "{{ .Alerts.Firing | len }}",
            "num_resolved": "{{ .Alerts.Resolved | len }}",
        }
    )
    severity: str = ""
    source: str = ""
    component: str = ""
    group: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    send_resolved: bool = True
    http_config: dict[str, Any] = field(default_factory=dict)
    timeout: float = 0.0
    # `class` is a Python keyword; accept it under its YAML name too.
    class_: str = ""


def event_action(n: Notification) -> str:
    if n.status == "resolved":
        return "resolve"
    return "acknowledge" if n.acknowledged_by else "trigger"


class PagerDutyIntegration:
    kind = "pagerduty"

    def __init__(self, config: PagerDutyConfig, deps: IntegrationDeps, where: str) -> None:
        v2 = bool(config.routing_key or config.routing_key_file)
        v1 = bool(config.service_key or config.service_key_file)
        if v1 == v2:
            raise problem(where, "routing_key", "set exactly one of routing_key or service_key")
        self.config = config
        self.v2 = v2
        self.render: Render = deps.render
        self.send_resolved = config.send_resolved
        self.timeout = config.timeout or None
        self.url = config.url or (EVENTS_V2_URL if v2 else EVENTS_V1_URL)
        self._client = make_client(
            config.http_config, session=deps.http, timeout=deps.http_timeout, where=where
        )

    def _r(self, text: str, n: Notification, name: str) -> str:
        return render_text(self.render, text, n, "pagerduty", name).strip()

    def _details(self, n: Notification) -> dict[str, str]:
        return {k: self._r(v, n, f"details.{k}") for k, v in self.config.details.items()}

    def v2_body(self, n: Notification, routing_key: str) -> dict[str, Any]:
        c = self.config
        action = event_action(n)
        body: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": group_hash(n.group_key),
        }
        if action != "trigger":
            return body
        summary, _ = truncate(self._r(c.description, n, "description"), SUMMARY_LIMIT)
        client = self._r(c.client, n, "client")
        severity_text = self._r(c.severity, n, "severity") if c.severity else ""
        payload: dict[str, Any] = {
            "summary": summary or n.group_key[:SUMMARY_LIMIT] or "alert",
            "source": self._r(c.source, n, "source") or client or "tocsin",
            "severity": map_severity(severity_text or n.common_labels.get("severity", "")),
            "custom_details": self._details(n),
        }
        if starts := [a.starts_at for a in n.firing if a.starts_at]:
            payload["timestamp"] = rfc3339(min(starts))
        for key, text in (("component", c.component), ("group", c.group), ("class", c.class_)):
            if value := self._r(text, n, key):
                payload[key] = value
        body["payload"] = payload
        if client:
            body["client"] = client
        if client_url := self._r(c.client_url, n, "client_url"):
            body["client_url"] = client_url
        images = []
        for i, img in enumerate(c.images):
            image = {k: self._r(str(img.get(k, "")), n, f"images[{i}].{k}") for k in img}
            if image.get("src"):
                images.append({k: v for k, v in image.items() if v})
        links = []
        for i, lnk in enumerate(c.links):
            link = {k: self._r(str(lnk.get(k, "")), n, f"links[{i}].{k}") for k in lnk}
            if link.get("href"):
                links.append({k: v for k, v in link.items() if v})
        if images:
            body["images"] = images
        if links:
            body["links"] = links
        return body

    def v1_body(self, n: Notification, service_key: str) -> dict[str, Any]:
        c = self.config
        description, _ = truncate(self._r(c.description, n, "description"), SUMMARY_LIMIT)
        body: dict[str, Any] = {
            "service_key": service_key,
            "event_type": event_action(n),
            "incident_key": group_hash(n.group_key),
            "description": description or "alert",
            "details": self._details(n),
        }
        if body["event_type"] == "trigger":
            body["client"] = self._r(c.client, n, "client")
            body["client_url"] = self._r(c.client_url, n, "client_url")
        return body

    async def notify(self, n: Notification) -> DeliveryResult:
        c = self.config
        if self.v2:
            key = read_secret(c.routing_key, c.routing_key_file, "pagerduty", "routing_key")
            body = self.v2_body(n, key)
        else:
            key = read_secret(c.service_key, c.service_key_file, "pagerduty", "service_key")
            body = self.v1_body(n, key)
        resp = await send(self._client, "POST", self.url, "pagerduty", json=body)
        if not self.v2 and resp.status_code == 403:
            # The v1 API signals throttling with 403.
            raise DeliveryFailure("pagerduty: v1 API throttled (HTTP 403)", retryable=True,
                                  status_code=403)  # fmt: skip
        check_status(resp, "pagerduty")
        action = body.get("event_action") or body.get("event_type")
        return DeliveryResult(status_code=resp.status_code, detail=str(action))

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to the receivers set."""


def build(
    data: Any, deps: IntegrationDeps, where: str = "pagerduty_configs"
) -> PagerDutyIntegration:
    config = parse_config(PagerDutyConfig, data, where, renames={"class": "class_"})
    return PagerDutyIntegration(config, deps, where)
