"""Slack: incoming webhooks and bot tokens (chat.postMessage), Block Kit.

With a bot token the first message of a group starts a thread; later
notifications for the same group (new alerts, acknowledgement, resolution)
are posted in that thread, and the resolution also recolours the parent.
With `update_message: true` (Alertmanager's option) the first message is
edited in place instead. Incoming webhooks cannot thread (Slack returns no
message id), so each notification is a new message there.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.fields import parse_config, problem, read_secret, render_text, truncate
from tocsin.notify.http import HttpResponse, check_status, make_client, retry_after, send
from tocsin.notify.types import (
    DeliveryFailure,
    DeliveryResult,
    KeyValueStore,
    Notification,
    Render,
    group_hash,
)

log = logging.getLogger(__name__)

POST_URL = "https://slack.com/api/chat.postMessage"
THREAD_TTL = 30 * 24 * 3600.0
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_PER_SECTION = 10
BUTTON_TEXT_LIMIT = 75
# Web API errors that may pass on a later try; all others are permanent.
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
     "request_timeout"}
)  # fmt: skip
STALE_THREAD_ERRORS = frozenset({"thread_not_found", "message_not_found"})


@dataclass(slots=True)
class SlackConfig:
    """slack_configs fields; defaults are Alertmanager's."""

    api_url: str | None = None
    api_url_file: str | None = None
    app_token: str | None = None
    app_token_file: str | None = None
    app_url: str | None = None
    channel: str = ""
    username: str = '{{ template "slack.default.username" . }}'
    color: str = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: str = '{{ template "slack.default.title" . }}'
    title_link: str = '{{ template "slack.default.titlelink" . }}'
    pretext: str = '{{ template "slack.default.pretext" . }}'
    text: str = '{{ template "slack.default.text" . }}'
    fields: list[dict[str, Any]] = field(default_factory=list)
    short_fields: bool = False
    footer: str = '{{ template "slack.default.footer" . }}'
    fallback: str = '{{ template "slack.default.fallback" . }}'
    callback_id: str = '{{ template "slack.default.callbackid" . }}'
    icon_emoji: str = '{{ template "slack.default.iconemoji" . }}'
    icon_url: str = '{{ template "slack.default.iconurl" . }}'
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    mrkdwn_in: list[str] = field(default_factory=lambda: ["fallback", "pretext", "text"])
    actions: list[dict[str, Any]] = field(default_factory=list)
    message_text: str = ""
    update_message: bool = False
    send_resolved: bool = False
    http_config: dict[str, Any] = field(default_factory=dict)
    timeout: float = 0.0


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    body, _ = truncate(text, SECTION_LIMIT)
    return {"type": "section", "text": {"type": "mrkdwn", "text": body}}


class SlackMessage:
    """Renders one notification into a chat.postMessage / webhook body."""

    def __init__(self, config: SlackConfig, render: Render) -> None:
        self.c = config
        self.render = render

    def _r(self, text: str, n: Notification, name: str) -> str:
        return render_text(self.render, text, n, "slack", name).strip()

    def build(self, n: Notification) -> dict[str, Any]:
        c = self.c
        title = self._r(c.title, n, "title")
        link = self._r(c.title_link, n, "title_link")
        fallback = self._r(c.fallback, n, "fallback") or title or n.status
        blocks: list[dict[str, Any]] = []
        if pretext := self._r(c.pretext, n, "pretext"):
            blocks.append(_section(pretext))
        if title:
            heading = f"*<{link}|{_escape(title)}>*" if link else f"*{_escape(title)}*"
            block = _section(heading)
            if thumb := self._r(c.thumb_url, n, "thumb_url"):
                block["accessory"] = {"type": "image", "image_url": thumb, "alt_text": "thumbnail"}
            blocks.append(block)
        if text := self._r(c.text, n, "text"):
            blocks.append(_section(text))
        blocks.extend(self._field_sections(n))
        if n.acknowledged_by:
            ack = f":eyes: Acknowledged by {_escape(n.acknowledged_by)}"
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": ack}]})
        if image := self._r(c.image_url, n, "image_url"):
            blocks.append({"type": "image", "image_url": image, "alt_text": title or "image"})
        if buttons := self._buttons(n):
            blocks.append({"type": "actions", "elements": buttons})
        if footer := self._r(c.footer, n, "footer"):
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
        status = f"{n.status.upper()} \u00b7 {len(n.firing)} firing, {len(n.resolved)} resolved"
        attachment: dict[str, Any] = {
            "fallback": fallback,
            "color": self._r(c.color, n, "color"),
            "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": status}]}],
        }
        if callback := self._r(c.callback_id, n, "callback_id"):
            attachment["callback_id"] = callback
        body: dict[str, Any] = {
            "text": self._r(c.message_text, n, "message_text") or fallback,
            "blocks": blocks[:50],
            "attachments": [attachment],
        }
        if c.channel:
            body["channel"] = self._r(c.channel, n, "channel")
        if username := self._r(c.username, n, "username"):
            body["username"] = username
        if emoji := self._r(c.icon_emoji, n, "icon_emoji"):
            body["icon_emoji"] = emoji
        elif icon := self._r(c.icon_url, n, "icon_url"):
            body["icon_url"] = icon
        if c.link_names:
            body["link_names"] = True
        return body

    def _field_sections(self, n: Notification) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for i, f in enumerate(self.c.fields):
            title = self._r(str(f.get("title", "")), n, f"fields[{i}].title")
            value = self._r(str(f.get("value", "")), n, f"fields[{i}].value")
            if not (title or value):
                continue
            body, _ = truncate(f"*{_escape(title)}*\n{value}" if title else value, FIELD_LIMIT)
            items.append({"type": "mrkdwn", "text": body})
        return [
            {"type": "section", "fields": items[i : i + FIELDS_PER_SECTION]}
            for i in range(0, len(items), FIELDS_PER_SECTION)
        ]

    def _buttons(self, n: Notification) -> list[dict[str, Any]]:
        buttons = []
        for i, a in enumerate(self.c.actions[:25]):
            text = self._r(str(a.get("text", "")), n, f"actions[{i}].text")
            if not text:
                continue
            button: dict[str, Any] = {
                "type": "button",
                "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT_LIMIT)[0]},
                "action_id": str(a.get("name") or f"action-{i}"),
            }
            if url := self._r(str(a.get("url", "")), n, f"actions[{i}].url"):
                button["url"] = url
            if value := self._r(str(a.get("value", "")), n, f"actions[{i}].value"):
                button["value"] = value
            if a.get("style") in ("primary", "danger"):
                button["style"] = a["style"]
            buttons.append(button)
        return buttons


class SlackApiError(DeliveryFailure):
    """Slack's Web API said `ok: false`; `error` is its error code."""

    def __init__(self, method: str, error: str, status: int, retry_after: float | None) -> None:
        super().__init__(
            f"slack: {method} failed: {error}",
            retryable=error in RETRYABLE_ERRORS,
            status_code=status,
            retry_after=retry_after,
        )
        self.error = error


def is_web_api(url: str) -> bool:
    """True for a Web API method URL rather than an incoming-webhook URL.

    Alertmanager users point `api_url` at chat.postMessage, with the bot
    token in `http_config.authorization`, as the pre-`app_token` way to use
    a bot; that keeps working here and gets threads too.
    """
    return url.rstrip("/").endswith("/chat.postMessage")


class SlackIntegration:
    kind = "slack"

    def __init__(self, config: SlackConfig, deps: IntegrationDeps, where: str) -> None:
        has_url = bool(config.api_url or config.api_url_file)
        has_token = bool(config.app_token or config.app_token_file)
        # Alertmanager's config loading copies app_url into api_url when a token is used.
        web_api = is_web_api(config.api_url or "") or bool(
            has_token and config.app_url and config.api_url == config.app_url
        )
        if not (has_url or has_token):
            raise problem(where, "api_url", "one of api_url(_file) or app_token(_file) is required")
        if has_token and has_url and not web_api:
            raise problem(
                where, "api_url", "app_token cannot be used with an incoming-webhook api_url"
            )
        if config.api_url and config.api_url_file:
            raise problem(where, "api_url", "api_url and api_url_file are mutually exclusive")
        if config.app_token and config.app_token_file:
            raise problem(where, "app_token", "app_token and app_token_file are mutually exclusive")
        self.bot = has_token or web_api
        if self.bot and not config.channel:
            raise problem(where, "channel", "a channel is required to post with a bot token")
        if config.update_message and not self.bot:
            raise problem(
                where, "update_message", "needs app_token: incoming webhooks cannot edit messages"
            )
        self.config = config
        self.send_resolved = config.send_resolved
        self.timeout = config.timeout or None
        self.message = SlackMessage(config, deps.render)
        self.kv: KeyValueStore = deps.store
        if has_token:
            self.post_url = config.app_url or POST_URL
        else:
            self.post_url = (config.api_url if web_api else "") or POST_URL
        self._client = make_client(
            config.http_config, session=deps.http, timeout=deps.http_timeout, where=where
        )

    async def notify(self, n: Notification) -> DeliveryResult:
        body = self.message.build(n)
        if not self.bot:
            url = read_secret(self.config.api_url, self.config.api_url_file, "slack", "api_url")
            resp = await send(self._client, "POST", url, "slack", json=body)
            check_status(resp, "slack")
            return DeliveryResult(status_code=resp.status_code)
        return await self._notify_bot(n, body)

    def _thread_key(self, n: Notification, channel: str) -> str:
        return f"slack:thread:{n.receiver}:{channel}:{group_hash(n.group_key)}"

    async def _notify_bot(self, n: Notification, body: dict[str, Any]) -> DeliveryResult:
        """First message of a group starts a thread; later ones reply or edit."""
        key = self._thread_key(n, body["channel"])
        stored = await self.kv.get(key)
        first: dict[str, str] | None = json.loads(stored) if stored else None
        if first and self.config.update_message:
            # Alertmanager's update_message: the one message always shows the latest state.
            edit = {**body, "channel": first["channel"], "ts": first["ts"]}
            try:
                _, code = await self._call("chat.update", edit)
            except SlackApiError as e:
                if e.error not in STALE_THREAD_ERRORS:
                    raise
                first = None
            else:
                if n.status == "resolved":
                    await self.kv.delete(key)
                return DeliveryResult(status_code=code, detail=f"updated ts={first['ts']}")
        elif first:
            reply = {**body, "channel": first["channel"], "thread_ts": first["ts"]}
            try:
                _, code = await self._call("chat.postMessage", reply)
            except SlackApiError as e:
                if e.error not in STALE_THREAD_ERRORS:
                    raise
                first = None
            else:
                detail = f"thread_ts={first['ts']}"
                if n.status == "resolved":
                    await self.kv.delete(key)
                    detail += await self._recolour_parent(body, first)
                return DeliveryResult(status_code=code, detail=detail)
        data, code = await self._call("chat.postMessage", body)
        first = {"channel": data.get("channel") or body["channel"], "ts": data["ts"]}
        if n.status == "firing":
            await self.kv.set(key, json.dumps(first), ttl=THREAD_TTL)
        else:
            await self.kv.delete(key)
        return DeliveryResult(status_code=code, detail=f"ts={data['ts']}")

    async def _recolour_parent(self, body: dict[str, Any], first: dict[str, str]) -> str:
        try:
            await self._call(
                "chat.update", {**body, "channel": first["channel"], "ts": first["ts"]}
            )
        except DeliveryFailure as e:
            # The resolve itself is in the thread; a stale parent is cosmetic.
            log.warning("slack: could not mark thread parent resolved: %s", e)
            return f"; parent not updated: {e}"
        return ""

    def _method_url(self, method: str) -> str:
        if method == "chat.postMessage":
            return self.post_url
        base = self.post_url.rstrip("/")
        if base.endswith("/chat.postMessage"):
            base = base.rsplit("/", 1)[0]
        return f"{base}/{method}"

    async def _call(self, method: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        headers = {}
        if self.config.app_token or self.config.app_token_file:
            token = read_secret(
                self.config.app_token, self.config.app_token_file, "slack", "app_token"
            )
            headers["Authorization"] = f"Bearer {token}"
        # Otherwise the token comes from http_config.authorization on the client.
        resp = await send(
            self._client, "POST", self._method_url(method), "slack", json=body, headers=headers
        )
        check_status(resp, "slack")
        return self._check_api(resp, method), resp.status_code

    @staticmethod
    def _check_api(resp: HttpResponse, method: str) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            raise DeliveryFailure(
                f"slack: {method} answered with non-JSON body", retryable=True,
                status_code=resp.status_code,
            ) from None  # fmt: skip
        if not isinstance(data, dict) or "ok" not in data:
            raise DeliveryFailure(f"slack: {method} answer has no 'ok'", retryable=True)
        if data["ok"] is not True:
            error = str(data.get("error", "unknown_error"))
            raise SlackApiError(method, error, resp.status_code, retry_after(resp))
        if method == "chat.postMessage" and not data.get("ts"):
            raise DeliveryFailure("slack: chat.postMessage answer has no ts", retryable=False)
        return data

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to the receivers set."""


def build(data: Any, deps: IntegrationDeps, where: str = "slack_configs") -> SlackIntegration:
    return SlackIntegration(parse_config(SlackConfig, data, where), deps, where)
