"""HTTP layer of the simulator: the vendor's zone API under /v1 and the admin API."""

from __future__ import annotations

import base64
import hmac
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from tocsin.clock import Clock
from tocsin.sim.budget import RequestBudget
from tocsin.sim.config import FaultSpec, SimConfig
from tocsin.sim.engine import ApiEffects, Endpoint, FaultError, SimEngine
from tocsin.sim.render import PageCache, ZoneRenderer, corrupt, dumps, etag_matches, etag_of
from tocsin.sim.world import StatusView

if TYPE_CHECKING:
    from tocsin.sim.simulator import FleetSimulator

Sleeper = Callable[[float], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CURSOR_PREFIX = b"zc1:"


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


def error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return json_response({"error": code, "message": message}, status, headers or None)


class BadRequest(Exception):
    pass


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + str(offset).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError
        offset = int(raw[len(_CURSOR_PREFIX) :])
        if offset < 0:
            raise ValueError
    except ValueError:
        raise BadRequest(f"invalid cursor {cursor!r}") from None
    return offset


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.by_endpoint: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.fault_hits: Counter[str] = Counter()
        self.rejected_auth = 0
        self.rejected_budget = 0
        self.not_modified = 0

    def as_dict(self, cache: PageCache) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_endpoint": dict(self.by_endpoint),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "fault_hits": dict(self.fault_hits),
            "rejected_auth": self.rejected_auth,
            "rejected_budget": self.rejected_budget,
            "not_modified": self.not_modified,
            "page_cache": {"hits": cache.hits, "misses": cache.misses, "bytes": cache.bytes},
        }


class SimServer:
    def __init__(self, engine: SimEngine, clock: Clock, sleep: Sleeper) -> None:
        self.engine = engine
        self.clock = clock
        self.sleep = sleep
        config = engine.config
        self.api_key = config.api_key
        self.budget = (
            RequestBudget(config.budget_per_minute, clock)
            if config.budget_per_minute is not None
            else None
        )
        self.renderer = ZoneRenderer(engine.fleet)
        self.cache = PageCache(int(config.page_cache_mb * 1024 * 1024))
        self.stats = Stats()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/v1/zones", self.list_zones)
        app.router.add_get("/v1/zones/{zone_id}", self.get_zone)
        app.router.add_get("/v1/venues/{venue_id}", self.get_venue)
        app.router.add_get("/v1/venues/{venue_id}/zones", self.venue_zones)
        app.router.add_post("/admin/faults", self.post_fault)
        app.router.add_get("/admin/faults", self.list_faults)
        app.router.add_delete("/admin/faults/{fault_id}", self.delete_fault)
        app.router.add_get("/admin/truth", self.get_truth)
        app.router.add_get("/admin/stats", self.get_stats)
        app.router.add_get("/healthz", self.healthz)
        return app

    # -- cross-cutting -------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.engine.sync(self.clock.now())
        if not request.path.startswith("/v1/"):
            return await handler(request)
        self.stats.requests += 1
        response = await self._guarded(request, handler)
        self.stats.by_status[response.status] += 1
        return response

    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.api_key is not None and not self._authorized(request):
            self.stats.rejected_auth += 1
            return error(
                401,
                "unauthorized",
                "missing or wrong API key: send X-API-Key or Authorization: Bearer",
                **{"WWW-Authenticate": 'Bearer realm="tocsin-sim"'},
            )
        limits: dict[str, str] = {}
        if self.budget is not None:
            retry_after = self.budget.take()
            limits = {
                "X-RateLimit-Limit": str(self.engine.config.budget_per_minute),
                "X-RateLimit-Remaining": str(int(self.budget.tokens)),
            }
            if retry_after is not None:
                self.stats.rejected_budget += 1
                return error(
                    429,
                    "rate_limited",
                    f"request budget of {self.engine.config.budget_per_minute}/min spent",
                    **{"Retry-After": str(retry_after)},
                    **limits,
                )
        try:
            response = await handler(request)
        except BadRequest as exc:
            response = error(400, "bad_request", str(exc))
        response.headers.update(limits)
        return response

    def _authorized(self, request: web.Request) -> bool:
        assert self.api_key is not None
        key = request.headers.get("X-API-Key")
        if key is None:
            auth = request.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer":
                return False
            key = token.strip()
        return hmac.compare_digest(key.encode(), self.api_key.encode())

    async def _effects(self, endpoint: Endpoint) -> ApiEffects | web.Response:
        """Apply the active API faults; a Response means answer with it instead."""
        self.stats.by_endpoint[endpoint] += 1
        fx = self.engine.api_effects(endpoint)
        self.stats.fault_hits.update(fx.faults)
        if fx.delay > 0:
            await self.sleep(fx.delay)
            self.engine.sync(self.clock.now())
        if fx.status is not None:
            return error(fx.status, "upstream_error", f"simulated HTTP {fx.status}")
        return fx

    def _view(self, fx: ApiEffects) -> StatusView:
        return fx.view if fx.view is not None else self.engine.view()

    def _send(
        self,
        request: web.Request,
        body: bytes,
        etag: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        etag = etag or etag_of(body)
        if etag_matches(request.headers.get("If-None-Match"), etag):
            self.stats.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        out = {"ETag": etag, **(headers or {})}
        return web.Response(body=body, headers=out, content_type="application/json")

    # -- vendor API ----------------------------------------------------------

    async def list_zones(self, request: web.Request) -> web.Response:
        q = request.query
        config = self.engine.config
        cursor_style = "cursor" in q or "limit" in q
        if cursor_style and ("page" in q or "page_size" in q):
            raise BadRequest("use either page/page_size or cursor/limit, not both")
        total = len(self.engine.fleet)
        if cursor_style:
            size = _int_param(request, "limit", config.default_page_size, 1, config.max_page_size)
            cursor = q.get("cursor")
            offset = decode_cursor(cursor) if cursor else 0
            key: tuple[object, ...] = ("c", offset, size)
        else:
            size = _int_param(
                request, "page_size", config.default_page_size, 1, config.max_page_size
            )
            page = _int_param(request, "page", 1, 1, 10**9)
            offset = (page - 1) * size
            key = ("p", page, size)
        fx = await self._effects("list")
        if isinstance(fx, web.Response):
            return fx
        view = self._view(fx)
        end = min(offset + size, total)
        has_next = end < total
        cached = self.cache.get(view.key, key)
        if cached is None:
            zones = self.renderer.zones(view, range(offset, end))
            if cursor_style:
                doc: dict[str, Any] = {
                    "zones": zones,
                    "next_cursor": encode_cursor(end) if has_next else None,
                }
            else:
                doc = {
                    "zones": zones,
                    "page": page,
                    "page_size": size,
                    "total": total,
                    "next_page": page + 1 if has_next else None,
                }
            body = dumps(doc)
            etag = self.cache.put(view.key, key, body)
        else:
            body, etag = cached
        headers: dict[str, str] = {}
        if not cursor_style and has_next:
            nxt = request.url.with_query({"page": str(page + 1), "page_size": str(size)})
            headers["Link"] = f'<{nxt}>; rel="next"'
        if fx.corrupt is not None:
            # Broken bodies get no ETag: a client must not cache them as valid.
            return web.Response(
                body=corrupt(body, fx.corrupt), headers=headers, content_type="application/json"
            )
        return self._send(request, body, etag, headers)

    async def get_zone(self, request: web.Request) -> web.Response:
        zone_id = request.match_info["zone_id"]
        i = self.engine.fleet.zone_index(zone_id)
        if i is None:
            return error(404, "not_found", f"no zone with id {zone_id!r}")
        fx = await self._effects("zone")
        if isinstance(fx, web.Response):
            return fx
        return self._send(request, dumps(self.renderer.zone(self._view(fx), i)))

    def _venue(self, request: web.Request) -> int | web.Response:
        venue_id = request.match_info["venue_id"]
        v = self.engine.fleet.venue_index(venue_id)
        if v is None:
            return error(404, "not_found", f"no venue with id {venue_id!r}")
        return v

    async def get_venue(self, request: web.Request) -> web.Response:
        v = self._venue(request)
        if isinstance(v, web.Response):
            return v
        fx = await self._effects("venue")
        if isinstance(fx, web.Response):
            return fx
        return self._send(request, dumps(self.engine.fleet.venue_dicts[v]))

    async def venue_zones(self, request: web.Request) -> web.Response:
        v = self._venue(request)
        if isinstance(v, web.Response):
            return v
        fx = await self._effects("venue")
        if isinstance(fx, web.Response):
            return fx
        fleet = self.engine.fleet
        zones = self.renderer.zones(self._view(fx), fleet.venue_zone_range(v))
        return self._send(request, dumps({"venue": fleet.venue_dicts[v], "zones": zones}))

    # -- admin ---------------------------------------------------------------

    async def post_fault(self, request: web.Request) -> web.Response:
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return error(400, "bad_request", f"body is not JSON: {exc}")
        try:
            spec = FaultSpec.model_validate(data)
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
                for e in exc.errors()
            ]
            return json_response(
                {"error": "invalid_fault", "message": "invalid fault", "problems": problems}, 400
            )
        try:
            fault = self.engine.add_fault(spec)
        except FaultError as exc:
            return error(400, "invalid_fault", str(exc))
        engine = self.engine
        return json_response(
            {"id": fault.id, "fault": fault.describe(engine.fleet, engine.t0)}, 201
        )

    async def list_faults(self, request: web.Request) -> web.Response:
        engine = self.engine
        return json_response(
            {"faults": [f.describe(engine.fleet, engine.t0) for f in engine.faults.values()]}
        )

    async def delete_fault(self, request: web.Request) -> web.Response:
        fid = request.match_info["fault_id"]
        try:
            fault = self.engine.remove_fault(fid, self.clock.now())
        except KeyError:
            return error(404, "not_found", f"no fault with id {fid!r}")
        return json_response(fault.describe(self.engine.fleet, self.engine.t0))

    async def get_truth(self, request: web.Request) -> web.Response:
        engine = self.engine
        log = engine.truth_log
        return json_response(
            {
                "t0": engine.t0,
                "now": engine.now,
                "closed_total": log.written,
                "closed_dropped": log.written - len(log.closed),
                "records": engine.truth(),
            }
        )

    async def get_stats(self, request: web.Request) -> web.Response:
        engine = self.engine
        out = self.stats.as_dict(self.cache)
        out.update(
            zones=len(engine.fleet),
            venues=len(engine.fleet.venues),
            offline=engine.world.offline_count(),
            t0=engine.t0,
            now=engine.now,
        )
        return json_response(out)

    async def healthz(self, request: web.Request) -> web.Response:
        return json_response({"status": "ok"})


async def start_simulator(
    config: SimConfig, clock: Clock | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> FleetSimulator:
    """Same as `tocsin.sim.start_simulator` (kept importable from here too)."""
    from tocsin.sim.simulator import start_simulator as start

    return await start(config, clock, host=host, port=port)
