"""Opsgenie Alert API: create while firing, close on resolve, by alias.

The alias is a hash of the group key, so a create for an alias that is
already open is deduplicated by Opsgenie, and the close finds it again even
after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.fields import parse_config, problem, read_secret, render_text, truncate
from tocsin.notify.http import check_status, make_client, send
from tocsin.notify.types import DeliveryFailure, DeliveryResult, Notification, group_hash

API_URL = "https://api.opsgenie.com/"
MESSAGE_LIMIT = 130
DESCRIPTION_LIMIT = 15000
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
RESPONDER_TYPES = ("team", "teams", "user", "escalation", "schedule")


@dataclass(slots=True)
class OpsgenieConfig:
    """opsgenie_configs fields; defaults are Alertmanager's."""

    api_key: str | None = None
    api_key_file: str | None = None
    api_url: str = API_URL
    message: str = '{{ template "opsgenie.default.message" . }}'
    description: str = '{{ template "opsgenie.default.description" . }}'
    source: str = '{{ template "opsgenie.default.source" . }}'
    details: dict[str, str] = field(default_factory=dict)
    responders: list[dict[str, str]] = field(default_factory=list)
    tags: str = ""
    note: str = ""
    priority: str = ""
    entity: str = ""
    actions: str = ""
    update_alerts: bool = False
    send_resolved: bool = True
    http_config: dict[str, Any] = field(default_factory=dict)
    timeout: float = 0.0


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


class OpsgenieIntegration:
    kind = "opsgenie"

    def __init__(self, config: OpsgenieConfig, deps: IntegrationDeps, where: str) -> None:
        if not (config.api_key or config.api_key_file):
            raise problem(where, "api_key", "one of api_key or api_key_file is required")
        for i, r in enumerate(config.responders):
            if r.get("type") not in RESPONDER_TYPES and "{{" not in str(r.get("type", "")):
                raise problem(
                    where, f"responders[{i}].type", f"must be one of {', '.join(RESPONDER_TYPES)}"
                )
            if not any(r.get(k) for k in ("id", "name", "username")):
                raise problem(where, f"responders[{i}]", "needs one of id, name or username")
        self.config = config
        self.render = deps.render
        self.send_resolved = config.send_resolved
        self.timeout = config.timeout or None
        self.base = config.api_url.rstrip("/") + "/v2/alerts"
        self._client = make_client(
            config.http_config, session=deps.http, timeout=deps.http_timeout, where=where
        )

    def _r(self, text: str, n: Notification, name: str) -> str:
        return render_text(self.render, text, n, "opsgenie", name).strip()

    def create_body(self, n: Notification) -> dict[str, Any]:
        c = self.config
        message, _ = truncate(self._r(c.message, n, "message"), MESSAGE_LIMIT)
        description, _ = truncate(self._r(c.description, n, "description"), DESCRIPTION_LIMIT)
        details = dict(n.common_labels)
        details.update({k: self._r(v, n, f"details.{k}") for k, v in c.details.items()})
        body: dict[str, Any] = {
            "alias": group_hash(n.group_key),
            "message": message or n.group_key[:MESSAGE_LIMIT] or "alert",
            "description": description,
            "details": details,
            "source": self._r(c.source, n, "source"),
        }
        if responders := self._responders(n):
            body["responders"] = responders
        if tags := _split(self._r(c.tags, n, "tags")):
            body["tags"] = tags
        if note := self._r(c.note, n, "note"):
            body["note"] = note
        if entity := self._r(c.entity, n, "entity"):
            body["entity"] = entity
        if actions := _split(self._r(c.actions, n, "actions")):
            body["actions"] = actions
        if priority := self._r(c.priority, n, "priority"):
            if priority not in PRIORITIES:
                raise DeliveryFailure(
                    f"opsgenie: priority {priority!r} is not one of P1..P5", retryable=False
                )
            body["priority"] = priority
        return body

    def _responders(self, n: Notification) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for i, r in enumerate(self.config.responders):
            rendered = {k: self._r(str(v), n, f"responders[{i}].{k}") for k, v in r.items()}
            kind = rendered.get("type", "")
            if kind == "teams":
                # Alertmanager's shorthand: a comma-separated list of team names.
                out.extend({"type": "team", "name": t} for t in _split(rendered.get("name", "")))
                continue
            if kind not in RESPONDER_TYPES:
                raise DeliveryFailure(
                    f"opsgenie: responders[{i}] has unknown type {kind!r}", retryable=False
                )
            out.append({k: v for k, v in rendered.items() if v})
        return out

    async def _post(self, method: str, path: str, body: dict[str, Any]) -> int:
        key = read_secret(self.config.api_key, self.config.api_key_file, "opsgenie", "api_key")
        resp = await send(
            self._client,
            method,
            self.base + path,
            "opsgenie",
            json=body,
            headers={"Authorization": f"GenieKey {key}"},
        )
        check_status(resp, "opsgenie")
        return resp.status_code

    async def notify(self, n: Notification) -> DeliveryResult:
        alias = quote(group_hash(n.group_key), safe="")
        by_alias = "?identifierType=alias"
        source = self._r(self.config.source, n, "source")
        if n.status == "resolved":
            body = {"source": source, "note": "Resolved by tocsin"}
            code = await self._post("POST", f"/{alias}/close{by_alias}", body)
            return DeliveryResult(status_code=code, detail="close")
        if n.acknowledged_by:
            body = {"source": source, "user": n.acknowledged_by, "note": "Acknowledged in tocsin"}
            code = await self._post("POST", f"/{alias}/acknowledge{by_alias}", body)
            return DeliveryResult(status_code=code, detail="acknowledge")
        create = self.create_body(n)
        code = await self._post("POST", "", create)
        if self.config.update_alerts:
            # Create deduplicates on the alias and keeps the old text; these
            # two calls bring an already-open alert up to date.
            await self._post("PUT", f"/{alias}/message{by_alias}", {"message": create["message"]})
            await self._post(
                "PUT", f"/{alias}/description{by_alias}", {"description": create["description"]}
            )
        return DeliveryResult(status_code=code, detail="create")

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to the receivers set."""


def build(data: Any, deps: IntegrationDeps, where: str = "opsgenie_configs") -> OpsgenieIntegration:
    return OpsgenieIntegration(parse_config(OpsgenieConfig, data, where), deps, where)
