"""Local stand-ins for the services tocsin notifies, on 127.0.0.1.

Each fake checks every request against the service's documented format
(required fields, types, limits, headers, auth) and answers the way the
service does, including its error bodies. A request that breaks the format
is answered with the service's error AND listed in `problems`, so a test can
assert `fake.problems == []`. `script()` queues canned answers (a 503, a 429
with Retry-After) to exercise retry decisions.

    async with FakePagerDuty() as pd:
        url = pd.url + "/v2/enqueue"
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]  # case-insensitive; getall() for repeated headers
    body: bytes
    json: Any = None


@dataclass
class Scripted:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _is_str(v: Any, limit: int | None = None, *, empty: bool = True) -> bool:
    return isinstance(v, str) and (empty or v != "") and (limit is None or len(v) <= limit)


class FakeService:
    """Base: an aiohttp app on 127.0.0.1 that records and scripts answers."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.problems: list[str] = []
        self._scripted: deque[Scripted] = deque()
        self.app = web.Application(middlewares=[self._middleware])
        self.routes(self.app.router)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def script(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` requests with this instead of the normal handling."""
        for _ in range(times):
            self._scripted.append(Scripted(status, body, headers or {}))

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                request.headers.copy(),
                body,
                parsed,
            )
        )
        if self._scripted:
            s = self._scripted.popleft()
            if s.body is None or isinstance(s.body, str):
                return web.Response(status=s.status, text=s.body or "", headers=s.headers)
            return web.json_response(s.body, status=s.status, headers=s.headers)
        return await handler(request)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def bad(self, message: str) -> str:
        self.problems.append(message)
        return message

    def json_body(self, request: web.Request) -> Any:
        if not request.content_type.startswith("application/json"):
            self.bad(f"Content-Type is {request.content_type!r}, not application/json")
        rec = self.requests[-1]
        if rec.json is None:
            self.bad("body is not JSON")
        return rec.json


# ---------------------------------------------------------------- webhook


def check_webhook_v4(body: Any) -> list[str]:
    """Problems with an Alertmanager webhook payload, version 4."""
    want = {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
    if not isinstance(body, dict):
        return ["payload is not an object"]
    out = []
    if set(body) != want:
        out.append(f"keys {sorted(set(body) ^ want)} differ from version 4")
    if body.get("version") != "4":
        out.append("version is not the string '4'")
    if not isinstance(body.get("truncatedAlerts"), int):
        out.append("truncatedAlerts is not an integer")
    if body.get("status") not in ("firing", "resolved"):
        out.append("status is not firing/resolved")
    for key in ("groupKey", "receiver", "externalURL"):
        if not isinstance(body.get(key), str):
            out.append(f"{key} is not a string")
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        value = body.get(key)
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            out.append(f"{key} is not a string map")
    alert_keys = {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    for i, a in enumerate(body.get("alerts") or []):
        if not isinstance(a, dict) or set(a) != alert_keys:
            out.append(f"alerts[{i}] keys differ from version 4")
            continue
        if a["status"] not in ("firing", "resolved"):
            out.append(f"alerts[{i}].status invalid")
        for t in ("startsAt", "endsAt"):
            if not (isinstance(a[t], str) and RFC3339.match(a[t])):
                out.append(f"alerts[{i}].{t} is not RFC 3339: {a[t]!r}")
    if not isinstance(body.get("alerts"), list):
        out.append("alerts is not a list")
    return out


class FakeWebhook(FakeService):
    """A webhook receiver that checks Alertmanager's version 4 payload."""

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/{tail:.*}", self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        for p in check_webhook_v4(self.json_body(request)):
            self.bad(p)
            return web.Response(status=400, text=p)
        return web.Response(status=200, text="")


# ---------------------------------------------------------------- Slack

TEXT_TYPES = ("mrkdwn", "plain_text")


def _check_text(obj: Any, where: str, limit: int, plain: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in (
        ("plain_text",) if plain else TEXT_TYPES
    ):
        return [f"{where} is not a text object"]
    if not _is_str(obj.get("text"), limit, empty=False):
        return [f"{where}.text is empty or longer than {limit}"]
    return []


def check_blocks(blocks: Any, where: str = "blocks") -> list[str]:
    """Problems with a list of Block Kit blocks, per Slack's block reference."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return [f"{where} is not a list of at most 50 blocks"]
    out: list[str] = []
    for i, b in enumerate(blocks):
        at = f"{where}[{i}]"
        kind = b.get("type") if isinstance(b, dict) else None
        if kind == "section":
            if "text" not in b and "fields" not in b:
                out.append(f"{at} section has neither text nor fields")
            if "text" in b:
                out += _check_text(b["text"], f"{at}.text", 3000)
            if "accessory" in b:
                acc = b["accessory"]
                if acc.get("type") == "image" and not (
                    _is_str(acc.get("image_url"), 3000, empty=False)
                    and _is_str(acc.get("alt_text"), 2000, empty=False)
                ):
                    out.append(f"{at}.accessory image needs image_url and alt_text")
            if "fields" in b:
                fields = b["fields"]
                if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                    out.append(f"{at}.fields must hold 1 to 10 items")
                else:
                    for j, f in enumerate(fields):
                        out += _check_text(f, f"{at}.fields[{j}]", 2000)
        elif kind == "context":
            elements = b.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                out.append(f"{at}.elements must hold 1 to 10 items")
            else:
                for j, e in enumerate(elements):
                    out += _check_text(e, f"{at}.elements[{j}]", 3000)
        elif kind == "actions":
            elements = b.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                out.append(f"{at}.elements must hold 1 to 25 items")
                continue
            for j, e in enumerate(elements):
                if e.get("type") != "button":
                    out.append(f"{at}.elements[{j}] is not a button")
                    continue
                out += _check_text(e.get("text"), f"{at}.elements[{j}].text", 75, plain=True)
                if "style" in e and e["style"] not in ("primary", "danger"):
                    out.append(f"{at}.elements[{j}].style invalid")
                if "url" in e and not _is_str(e["url"], 3000, empty=False):
                    out.append(f"{at}.elements[{j}].url invalid")
                if not _is_str(e.get("action_id", "x"), 255, empty=False):
                    out.append(f"{at}.elements[{j}].action_id invalid")
        elif kind == "header":
            out += _check_text(b.get("text"), f"{at}.text", 150, plain=True)
        elif kind == "image":
            if not _is_str(b.get("image_url"), 3000, empty=False) or not _is_str(
                b.get("alt_text"), 2000, empty=False
            ):
                out.append(f"{at} image needs image_url and alt_text")
        elif kind != "divider":
            out.append(f"{at} has unknown block type {kind!r}")
    return out


def check_slack_message(body: Any, *, need_channel: bool) -> list[str]:
    if not isinstance(body, dict):
        return ["body is not an object"]
    out: list[str] = []
    if not any(body.get(k) for k in ("text", "blocks", "attachments")):
        out.append("no_text")
    if need_channel and not _is_str(body.get("channel"), empty=False):
        out.append("channel is missing")
    if "text" in body and not isinstance(body["text"], str):
        out.append("text is not a string")
    if "blocks" in body:
        out += check_blocks(body["blocks"])
    for i, a in enumerate(body.get("attachments", [])):
        if not isinstance(a, dict):
            out.append(f"attachments[{i}] is not an object")
            continue
        if "color" in a and not isinstance(a["color"], str):
            out.append(f"attachments[{i}].color is not a string")
        if "blocks" in a:
            out += check_blocks(a["blocks"], f"attachments[{i}].blocks")
    for key in ("username", "icon_emoji", "icon_url"):
        if key in body and not isinstance(body[key], str):
            out.append(f"{key} is not a string")
    if "link_names" in body and not isinstance(body["link_names"], bool):
        out.append("link_names is not a boolean")
    if "thread_ts" in body and not re.fullmatch(r"\d+\.\d+", str(body["thread_ts"])):
        out.append("thread_ts is not a message timestamp")
    return out


@dataclass
class SlackMessageRecord:
    channel: str
    ts: str
    body: dict[str, Any]
    thread_ts: str | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)


class FakeSlack(FakeService):
    """Slack incoming webhooks (`/services/T/B/X`) and the Web API (`/api/...`).

    Bot tokens must be `xoxb-...` and listed in `tokens`; channels by name or
    id must be in `channels` (name -> id).
    """

    def __init__(self, token: str = "xoxb-test-token", channels: dict[str, str] | None = None):
        self.tokens = {token}
        self.channels = channels or {"#alerts": "C0ALERTS", "C0ALERTS": "C0ALERTS"}
        self.messages: list[SlackMessageRecord] = []
        self._ts = itertools.count(1)
        super().__init__()

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/services/{t}/{b}/{x}", self.incoming_webhook)
        router.add_post("/api/chat.postMessage", self.post_message)
        router.add_post("/api/chat.update", self.update)

    async def incoming_webhook(self, request: web.Request) -> web.Response:
        body = self.json_body(request)
        problems = check_slack_message(body, need_channel=False)
        if problems:
            self.bad("; ".join(problems))
            return web.Response(status=400, text="invalid_payload")
        self.messages.append(SlackMessageRecord("webhook", "", body))
        return web.Response(status=200, text="ok")

    def _auth(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self.bad("no Authorization: Bearer header")
            return "not_authed"
        if auth.removeprefix("Bearer ") not in self.tokens:
            return "invalid_auth"
        return None

    @staticmethod
    def _err(error: str) -> web.Response:
        # The Web API reports most failures with HTTP 200 and ok: false.
        return web.json_response({"ok": False, "error": error})

    async def post_message(self, request: web.Request) -> web.Response:
        if error := self._auth(request):
            return self._err(error)
        body = self.json_body(request)
        if problems := check_slack_message(body, need_channel=True):
            self.bad("; ".join(problems))
            return self._err("invalid_arguments")
        channel = self.channels.get(body["channel"])
        if channel is None:
            return self._err("channel_not_found")
        thread_ts = body.get("thread_ts")
        if thread_ts and not any(m.ts == thread_ts and m.channel == channel for m in self.messages):
            return self._err("thread_not_found")
        ts = f"1700000000.{next(self._ts):06d}"
        self.messages.append(SlackMessageRecord(channel, ts, body, thread_ts))
        return web.json_response(
            {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text", "")}}
        )

    async def update(self, request: web.Request) -> web.Response:
        if error := self._auth(request):
            return self._err(error)
        body = self.json_body(request)
        if problems := check_slack_message(body, need_channel=True):
            self.bad("; ".join(problems))
            return self._err("invalid_arguments")
        for m in self.messages:
            if m.channel == body["channel"] and m.ts == body.get("ts"):
                m.updates.append(body)
                return web.json_response({"ok": True, "channel": m.channel, "ts": m.ts})
        return self._err("message_not_found")

    def thread(self, ts: str) -> list[SlackMessageRecord]:
        return [m for m in self.messages if m.thread_ts == ts]


# ---------------------------------------------------------------- Teams

CARD_ELEMENTS = {"TextBlock", "FactSet", "ColumnSet", "Container", "Image", "ActionSet"}


def check_teams_message(body: Any) -> list[str]:
    """Problems with a Workflows webhook message carrying Adaptive Cards."""
    if not isinstance(body, dict) or body.get("type") != "message":
        return ["type must be 'message'"]
    atts = body.get("attachments")
    if not isinstance(atts, list) or not atts:
        return ["attachments must be a non-empty list"]
    out: list[str] = []
    for i, a in enumerate(atts):
        if a.get("contentType") != "application/vnd.microsoft.card.adaptive":
            out.append(f"attachments[{i}].contentType is not an adaptive card")
        card = a.get("content")
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            out.append(f"attachments[{i}].content is not an AdaptiveCard")
            continue
        version = str(card.get("version", ""))
        if not re.fullmatch(r"1\.\d+", version) or int(version.split(".")[1]) < 4:
            out.append(f"card version {version!r} is not 1.4 or later")
        for j, e in enumerate(card.get("body") or []):
            kind = e.get("type")
            if kind not in CARD_ELEMENTS:
                out.append(f"body[{j}] unknown element {kind!r}")
            if kind == "TextBlock" and not _is_str(e.get("text"), empty=False):
                out.append(f"body[{j}] TextBlock without text")
            if kind == "FactSet" and not all(
                _is_str(f.get("title")) and _is_str(f.get("value")) for f in e.get("facts", [])
            ):
                out.append(f"body[{j}] FactSet facts need string title and value")
        if not card.get("body"):
            out.append("card body is empty")
        for j, act in enumerate(card.get("actions") or []):
            if act.get("type") == "Action.OpenUrl" and not _is_str(act.get("url"), empty=False):
                out.append(f"actions[{j}] Action.OpenUrl without url")
    return out


class FakeTeams(FakeService):
    """A Power Automate "when a Teams webhook request is received" trigger."""

    def routes(self, router: web.UrlDispatcher) -> None:
        # Logic Apps style and the newer Power Platform style of Workflows URLs.
        router.add_post("/workflows/{id}/triggers/manual/paths/invoke", self.invoke)
        router.add_post(
            "/powerautomate/automations/direct/workflows/{id}/triggers/manual/paths/invoke",
            self.invoke,
        )

    async def invoke(self, request: web.Request) -> web.Response:
        if not request.query.get("sig"):
            self.bad("missing sig query parameter")
            return web.json_response(
                {"error": {"code": "DirectApiAuthorizationRequired"}}, status=401
            )
        if problems := check_teams_message(self.json_body(request)):
            self.bad("; ".join(problems))
            return web.json_response({"error": {"code": "InvalidRequestContent"}}, status=400)
        return web.Response(status=202)


# ---------------------------------------------------------------- PagerDuty

PD_SEVERITIES = ("critical", "error", "warning", "info")


def check_pagerduty_v2(body: Any) -> list[str]:
    """Problems with an Events API v2 event, per PagerDuty's reference."""
    if not isinstance(body, dict):
        return ["event is not an object"]
    out: list[str] = []
    if not (isinstance(body.get("routing_key"), str) and len(body["routing_key"]) == 32):
        out.append("routing_key must be a 32 character string")
    action = body.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        out.append("event_action must be trigger, acknowledge or resolve")
    if "dedup_key" in body and not _is_str(body["dedup_key"], 255, empty=False):
        out.append("dedup_key must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not body.get("dedup_key"):
        out.append("dedup_key is required to acknowledge or resolve")
    if action == "trigger":
        p = body.get("payload")
        if not isinstance(p, dict):
            return [*out, "payload is required for trigger"]
        if not _is_str(p.get("summary"), 1024, empty=False):
            out.append("payload.summary must be 1 to 1024 characters")
        if not _is_str(p.get("source"), empty=False):
            out.append("payload.source is required")
        if p.get("severity") not in PD_SEVERITIES:
            out.append("payload.severity must be critical, error, warning or info")
        if "timestamp" in p and not RFC3339.match(str(p["timestamp"])):
            out.append("payload.timestamp is not ISO 8601")
        if "custom_details" in p and not isinstance(p["custom_details"], dict | list | str):
            out.append("payload.custom_details has a wrong type")
        for key in ("component", "group", "class"):
            if key in p and not isinstance(p[key], str):
                out.append(f"payload.{key} is not a string")
    for i, img in enumerate(body.get("images", [])):
        if not _is_str(img.get("src"), empty=False) or set(img) - {"src", "href", "alt"}:
            out.append(f"images[{i}] needs src and only src/href/alt")
    for i, link in enumerate(body.get("links", [])):
        if not _is_str(link.get("href"), empty=False) or set(link) - {"href", "text"}:
            out.append(f"links[{i}] needs href and only href/text")
    return out


class FakePagerDuty(FakeService):
    """Events API v2 (`/v2/enqueue`) and v1 (`/generic/2010-04-15/create_event.json`).

    `incidents` maps dedup_key -> "triggered" | "acknowledged" | "resolved".
    """

    def __init__(self) -> None:
        self.incidents: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        super().__init__()

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v2/enqueue", self.enqueue)
        router.add_post("/generic/2010-04-15/create_event.json", self.v1)

    def _apply(self, key: str, action: str) -> None:
        state = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}
        if action == "trigger" or key in self.incidents:
            self.incidents[key] = state[action]

    async def enqueue(self, request: web.Request) -> web.Response:
        body = self.json_body(request)
        if problems := check_pagerduty_v2(body):
            self.bad("; ".join(problems))
            return web.json_response(
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": problems,
                },
                status=400,
            )
        key = body.get("dedup_key") or uuid.uuid4().hex
        self.events.append(body)
        self._apply(key, body["event_action"])
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )

    async def v1(self, request: web.Request) -> web.Response:
        body = self.json_body(request)
        problems = []
        if not _is_str(body.get("service_key"), empty=False):
            problems.append("service_key is required")
        if body.get("event_type") not in ("trigger", "acknowledge", "resolve"):
            problems.append("event_type must be trigger, acknowledge or resolve")
        if body.get("event_type") == "trigger" and not _is_str(
            body.get("description"), 1024, empty=False
        ):
            problems.append("description is required for trigger")
        if body.get("event_type") != "trigger" and not body.get("incident_key"):
            problems.append("incident_key is required")
        if problems:
            self.bad("; ".join(problems))
            return web.json_response(
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": problems,
                },
                status=400,
            )
        key = body.get("incident_key") or uuid.uuid4().hex
        self.events.append(body)
        self._apply(key, body["event_type"])
        return web.json_response(
            {"status": "success", "message": "Event processed", "incident_key": key}
        )


# ---------------------------------------------------------------- Opsgenie

OG_RESPONDER_TYPES = ("team", "user", "escalation", "schedule")


def check_opsgenie_create(body: Any) -> list[str]:
    """Problems with a Create Alert request, per Opsgenie's Alert API."""
    if not isinstance(body, dict):
        return ["body is not an object"]
    out: list[str] = []
    if not _is_str(body.get("message"), 130, empty=False):
        out.append("message must be 1 to 130 characters")
    if "alias" in body and not _is_str(body["alias"], 512):
        out.append("alias must be at most 512 characters")
    if "description" in body and not _is_str(body["description"], 15000):
        out.append("description must be at most 15000 characters")
    tags = body.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 20 or not all(_is_str(t, 50) for t in tags):
        out.append("tags must be at most 20 strings of at most 50 characters")
    actions = body.get("actions", [])
    if (
        not isinstance(actions, list)
        or len(actions) > 10
        or not all(_is_str(a, 50) for a in actions)
    ):
        out.append("actions must be at most 10 strings of at most 50 characters")
    details = body.get("details", {})
    if not isinstance(details, dict) or not all(isinstance(v, str) for v in details.values()):
        out.append("details must be a map of strings")
    if "priority" in body and body["priority"] not in ("P1", "P2", "P3", "P4", "P5"):
        out.append("priority must be P1..P5")
    for i, r in enumerate(body.get("responders", [])):
        if r.get("type") not in OG_RESPONDER_TYPES:
            out.append(f"responders[{i}].type invalid")
        if not any(r.get(k) for k in ("id", "name", "username")):
            out.append(f"responders[{i}] needs id, name or username")
    for key, limit in (("entity", 512), ("source", 100), ("user", 100), ("note", 25000)):
        if key in body and not _is_str(body[key], limit):
            out.append(f"{key} must be a string of at most {limit} characters")
    return out


class FakeOpsgenie(FakeService):
    """Opsgenie Alert API v2. `alerts` maps alias -> {"status", "acknowledged", "body"}."""

    def __init__(self, api_key: str = "og-test-key") -> None:
        self.api_key = api_key
        self.alerts: dict[str, dict[str, Any]] = {}
        super().__init__()

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v2/alerts", self.create)
        router.add_post("/v2/alerts/{id}/close", self.close)
        router.add_post("/v2/alerts/{id}/acknowledge", self.acknowledge)
        router.add_put("/v2/alerts/{id}/message", self.update_field)
        router.add_put("/v2/alerts/{id}/description", self.update_field)

    @staticmethod
    def _answer(status: int = 202, message: str | None = None) -> web.Response:
        body: dict[str, Any] = {"took": 0.01, "requestId": str(uuid.uuid4())}
        if message is None:
            body["result"] = "Request will be processed"
        else:
            body["message"] = message
        return web.json_response(body, status=status)

    def _check_auth(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("GenieKey "):
            self.bad("no Authorization: GenieKey header")
        if auth != f"GenieKey {self.api_key}":
            return self._answer(401, "Could not authenticate")
        return None

    def _by_alias(self, request: web.Request) -> str | web.Response:
        if request.query.get("identifierType") != "alias":
            self.bad("identifierType=alias missing")
            return self._answer(404, "Alert not found")
        alias = request.match_info["id"]
        if alias not in self.alerts:
            return self._answer(404, "Alert not found")
        return alias

    async def create(self, request: web.Request) -> web.Response:
        if denied := self._check_auth(request):
            return denied
        body = self.json_body(request)
        if problems := check_opsgenie_create(body):
            self.bad("; ".join(problems))
            return self._answer(422, "; ".join(problems))
        alias = body.get("alias") or str(uuid.uuid4())
        existing = self.alerts.get(alias)
        if existing and existing["status"] == "open":
            existing["count"] += 1  # Opsgenie deduplicates open alerts by alias
        else:
            self.alerts[alias] = {"status": "open", "acknowledged": False, "body": body, "count": 1}
        return self._answer()

    async def close(self, request: web.Request) -> web.Response:
        if denied := self._check_auth(request):
            return denied
        alias = self._by_alias(request)
        if isinstance(alias, web.Response):
            return alias
        self.alerts[alias]["status"] = "closed"
        return self._answer()

    async def acknowledge(self, request: web.Request) -> web.Response:
        if denied := self._check_auth(request):
            return denied
        alias = self._by_alias(request)
        if isinstance(alias, web.Response):
            return alias
        self.alerts[alias]["acknowledged"] = True
        return self._answer()

    async def update_field(self, request: web.Request) -> web.Response:
        if denied := self._check_auth(request):
            return denied
        alias = self._by_alias(request)
        if isinstance(alias, web.Response):
            return alias
        name = request.path.rsplit("/", 1)[1]
        body = self.json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get(name), str):
            self.bad(f"{name} update without a string {name}")
            return self._answer(422, f"{name} is required")
        self.alerts[alias]["body"][name] = body[name]
        return self._answer()


# ---------------------------------------------------------------- Apprise json://


class FakeApprise(FakeService):
    """The receiving end of Apprise's `json://` and `form://` URLs."""

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/{tail:.*}", self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        if request.content_type.startswith("application/json"):
            body = self.json_body(request)
        else:
            body = dict(await request.post())
            self.requests[-1].json = {k: str(v) for k, v in body.items()}
        if not isinstance(body, dict) or not {"title", "message", "type"} <= set(body):
            self.bad(f"apprise body lacks title/message/type: {body!r}")
            return web.Response(status=400)
        return web.Response(status=200)
