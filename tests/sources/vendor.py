"""A small fake of a music vendor's zone-status API, for source tests.

Same shapes as the fleet simulator (page and cursor styles, Link header,
ETag/304, X-API-Key, 429 + Retry-After) plus faults on demand.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

API_KEY = "s3cret-key"


def zone(i: int) -> dict[str, Any]:
    venue = i // 5
    return {
        "id": f"v{venue:05d}-z{i % 5 + 1}",
        "name": ["Lobby", "Bar", "Terrace", "Kitchen", "Office"][i % 5],
        "importance": ["critical", "normal", "normal", "normal", "back-office"][i % 5],
        "venue": {
            "id": f"v{venue:05d}",
            "name": f"Venue {venue}",
            "region": ["eu-north", "us-east"][venue % 2],
            "timezone": "Europe/Stockholm",
        },
        "status": "offline" if i % 7 == 0 else "online",
        "volume": i % 100,
        "latency_ms": 10.0 + i % 50,
        "last_seen": "2026-11-23T08:00:00Z",
    }


@dataclass
class Vendor:
    n: int = 1200
    zones: list[dict[str, Any]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # path_qs of every request
    not_modified: int = 0
    rate_limited: int = 0  # answer this many next requests with 429
    retry_after: str = "2"
    faults: dict[int, str] = field(default_factory=dict)  # page -> fault
    fail_all: str | None = None
    delay: float = 0.0  # seconds every list request takes
    in_flight: int = 0
    peak_in_flight: int = 0
    gate: asyncio.Event | None = None  # when set: list requests wait for it...
    gate_from_page: int = 1  # ...from this page on
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # a request is waiting

    def __post_init__(self) -> None:
        if not self.zones:
            self.zones = [zone(i) for i in range(self.n)]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/zones", self.list_zones)
        app.router.add_get("/v1/zones/{id}", self.one_zone)
        return app

    def _deny(self, request: web.Request) -> web.Response | None:
        self.seen.append(request.path_qs)
        if request.headers.get("X-API-Key") != API_KEY:
            return web.json_response({"error": "bad key"}, status=401)
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return web.json_response(
                {"error": "slow down"}, status=429, headers={"Retry-After": self.retry_after}
            )
        return None

    async def _fault(self, kind: str | None, body: bytes) -> web.Response | None:
        if kind is None:
            return None
        if kind == "500":
            return web.Response(status=503, text="upstream busy")
        if kind == "truncated":
            return web.Response(body=body[: len(body) // 2], content_type="application/json")
        if kind == "malformed":
            return web.Response(body=b"{not json", content_type="application/json")
        if kind == "slow":
            await asyncio.sleep(0.5)
            return None
        if kind == "html":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        raise AssertionError(kind)

    def _respond(self, request: web.Request, doc: dict[str, Any], link: str | None) -> web.Response:
        body = orjson.dumps(doc)
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag}
        if link:
            headers["Link"] = f'<{link}>; rel="next"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def list_zones(self, request: web.Request) -> web.Response:
        denied = self._deny(request)
        if denied is not None:
            return denied
        gated = self.gate is not None and int(request.query.get("page", "1")) >= self.gate_from_page
        if self.delay or gated:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.arrived.set()
            try:
                if gated and self.gate is not None:
                    await self.gate.wait()
                else:
                    await asyncio.sleep(self.delay)
            finally:
                self.in_flight -= 1
        q = request.query
        if "limit" in q or "cursor" in q:
            limit = int(q.get("limit", "100"))
            start = int(q.get("cursor") or 0)
            chunk = self.zones[start : start + limit]
            nxt = start + limit if start + limit < len(self.zones) else None
            doc: dict[str, Any] = {"zones": chunk, "next_cursor": str(nxt) if nxt else None}
            page = start // limit + 1
            link = None
        else:
            page = int(q.get("page", "1"))
            size = int(q.get("page_size", "100"))
            chunk = self.zones[(page - 1) * size : page * size]
            more = page * size < len(self.zones)
            doc = {
                "zones": chunk,
                "page": page,
                "page_size": size,
                "total": len(self.zones),
                "next_page": page + 1 if more else None,
            }
            link = f"/v1/zones?page={page + 1}&page_size={size}" if more else None
        kind = self.fail_all or self.faults.get(page)
        if kind is not None and kind.endswith("-once"):
            kind = self.faults.pop(page).removesuffix("-once")
        fault = await self._fault(kind, orjson.dumps(doc))
        if fault is not None:
            return fault
        return self._respond(request, doc, link)

    async def one_zone(self, request: web.Request) -> web.Response:
        denied = self._deny(request)
        if denied is not None:
            return denied
        for z in self.zones:
            if z["id"] == request.match_info["id"]:
                return web.json_response(z)
        return web.json_response({"error": "no such zone"}, status=404)
