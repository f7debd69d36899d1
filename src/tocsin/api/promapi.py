"""Prometheus-compatible query API (`/api/v1/...`) so Grafana can use tocsin.

Endpoints, parameters, the JSON envelope, error types and HTTP codes follow
the Prometheus HTTP API: `query`, `query_range`, `series`, `labels`,
`label/<name>/values` (GET and form POST), `status/buildinfo`, plus empty
`metadata` and `query_exemplars` answers that Grafana's editor asks for.

Queries run in a worker thread so the event loop keeps ingesting; the
engine's own deadline stops them (`timeout`), the router's wait is a backstop.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import platform
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
import promql_parser
from fastapi import APIRouter, Request
from fastapi.responses import Response

import tocsin
from tocsin.clock import Clock, SystemClock
from tocsin.errors import QueryError
from tocsin.promql.engine import selector_matchers
from tocsin.tsdb.config import parse_duration
from tocsin.tsdb.types import LabelMatcher, MatchOp, Queryable

log = logging.getLogger(__name__)

STATUS_FOR_KIND = {
    "bad_data": 400,
    "execution": 422,
    "canceled": 499,
    "timeout": 503,
    "unavailable": 503,
    "not_found": 404,
    "internal": 500,
}
MAX_POINTS = 11_000
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
# Prometheus's "min/max time" stand-ins for an open-ended series/labels query,
# and the bounds of a time parameter: in milliseconds they leave int64 (numpy,
# SQLite) room for offsets and windows, where a wider time overflowed into a 500.
MIN_TIME = -(2**62) // 1000
MAX_TIME = 2**62 // 1000

QueryableSource = Queryable | Callable[[], Queryable]


class ApiError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
    )


def success(data: Any, warnings: Sequence[str] = ()) -> Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = list(warnings)
    return _json(body)


def error(kind: str, message: str) -> Response:
    return _json(
        {"status": "error", "errorType": kind, "error": message},
        STATUS_FOR_KIND.get(kind, 500),
    )


def parse_time(name: str, text: str | None) -> float:
    """Unix seconds from a float or an RFC 3339 timestamp."""
    if text is None or text == "":
        raise ApiError(
            "bad_data", f'invalid parameter "{name}": cannot parse "" to a valid timestamp'
        )
    t = _unix_seconds(text)
    if t is not None and MIN_TIME <= t <= MAX_TIME:
        return t
    raise ApiError(
        "bad_data", f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp'
    )


def _unix_seconds(text: str) -> float | None:
    try:
        t = float(text)
        return t if math.isfinite(t) else None
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return dt.timestamp() if dt.tzinfo is not None else None


def parse_duration_param(name: str, text: str | None) -> float:
    """Seconds from a float or a Prometheus duration (`15s`, `1m30s`)."""
    if text is None or text == "":
        raise ApiError(
            "bad_data", f'invalid parameter "{name}": cannot parse "" to a valid duration'
        )
    try:
        d = float(text)
        if math.isfinite(d):
            return d
    except ValueError:
        try:
            return parse_duration(text)
        except ValueError:
            pass
    raise ApiError(
        "bad_data", f'invalid parameter "{name}": cannot parse "{text}" to a valid duration'
    )


def parse_series_selector(text: str) -> list[LabelMatcher]:
    """Matchers of a `match[]` series selector such as `up{job=~"a|b"}`."""
    node: Any
    try:
        node = promql_parser.parse(text)
    except ValueError as exc:
        raise ApiError("bad_data", f'invalid parameter "match[]": {exc}: {text}') from None
    if type(node).__name__ != "VectorSelector":
        raise ApiError("bad_data", f'invalid parameter "match[]": not a series selector: {text}')
    if node.matchers.or_matchers:
        raise ApiError("bad_data", f'invalid parameter "match[]": "or" is not supported: {text}')
    try:
        out = selector_matchers(node)
    except QueryError as exc:
        raise ApiError("bad_data", f'invalid parameter "match[]": {exc}') from None
    if all(m.matches("") for m in out):
        raise ApiError("bad_data", "match[] must contain at least one non-empty matcher")
    return out


class _Params:
    """Query-string and form-body parameters, merged (body wins), multi-valued."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._d: dict[str, list[str]] = {}
        for k, v in pairs:
            self._d.setdefault(k, []).append(v)

    @classmethod
    async def of(cls, request: Request) -> _Params:
        pairs = list(request.query_params.multi_items())
        if request.method == "POST":
            ctype = request.headers.get("content-type", "")
            if ctype.startswith("application/x-www-form-urlencoded"):
                body = (await request.body()).decode("utf-8", errors="replace")
                form = parse_qsl(body, keep_blank_values=True)
                names = {k for k, _ in form}
                pairs = [(k, v) for k, v in pairs if k not in names] + form
            elif ctype and not ctype.startswith("multipart/"):
                raise ApiError("bad_data", f"unsupported content type {ctype!r}")
        return cls(pairs)

    def get(self, name: str) -> str | None:
        got = self._d.get(name)
        return got[-1] if got else None

    def all(self, name: str) -> list[str]:
        return self._d.get(name, [])


def _limit(params: _Params) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return 0
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < 0:
        raise ApiError(
            "bad_data", f'invalid parameter "limit": cannot parse "{raw}" to a valid limit'
        )
    return n


def _truncate(items: list[Any], limit: int) -> tuple[list[Any], list[str]]:
    if limit and len(items) > limit:
        return items[:limit], ["results truncated due to limit"]
    return items, []


def make_router(
    queryable: QueryableSource,
    engine: Any,
    *,
    clock: Clock | None = None,
    timeout: float = 120.0,
    max_samples: int | None = None,
) -> APIRouter:
    """The `/api/v1` query router.

    `queryable` is the store (or a callable returning the one to use for this
    request, e.g. per tenant); `engine` has `instant_query(q, query, t)` and
    `range_query(q, query, start, end, step)`. `timeout` (seconds) caps every
    query, the `timeout` parameter can only lower it; `max_samples` caps the
    samples one query may load (the engine's own default when None).
    """
    clk = clock or SystemClock()
    router = APIRouter()

    def store() -> Queryable:
        if callable(queryable) and not hasattr(queryable, "select"):
            return queryable()
        return queryable  # type: ignore[return-value]

    def engine_for(limit_s: float) -> Any:
        eng = engine
        if hasattr(engine, "timeout") or (
            max_samples is not None and hasattr(engine, "max_samples")
        ):
            eng = copy.copy(engine)
            if hasattr(eng, "timeout"):
                eng.timeout = limit_s
            if max_samples is not None and hasattr(eng, "max_samples"):
                eng.max_samples = max_samples
        return eng

    def query_timeout(params: _Params) -> float:
        raw = params.get("timeout")
        if raw is None or raw == "":
            return timeout
        got = parse_duration_param("timeout", raw)
        return min(got, timeout) if got > 0 else timeout

    async def run(fn: Callable[[], Any], limit_s: float) -> Response:
        try:
            result = await asyncio.wait_for(asyncio.to_thread(fn), limit_s + 1.0)
        except TimeoutError:
            return error("timeout", "query timed out in query execution")
        except QueryError as exc:
            return error(exc.kind, str(exc))
        except ApiError as exc:
            return error(exc.kind, str(exc))
        except Exception as exc:
            log.exception("query failed")
            return error("internal", f"internal error: {exc}")
        return success(result.to_prometheus_json())

    def handled(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)
            except ApiError as exc:
                return error(exc.kind, str(exc))
            except Exception as exc:  # Prometheus's error shape even for a bug
                log.exception("%s failed", request.url.path)
                return error("internal", f"internal error: {exc}")

        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        return endpoint

    async def query(request: Request) -> Response:
        """Instant query (Prometheus `/api/v1/query`)."""
        p = await _Params.of(request)
        q = p.get("query")
        if not q:
            raise ApiError("bad_data", 'invalid parameter "query": query is empty')
        t_raw = p.get("time")
        t = clk.now() if t_raw in (None, "") else parse_time("time", t_raw)
        limit_s = query_timeout(p)
        eng, qb = engine_for(limit_s), store()
        return await run(lambda: eng.instant_query(qb, q, t), limit_s)

    async def query_range(request: Request) -> Response:
        """Range query (Prometheus `/api/v1/query_range`)."""
        p = await _Params.of(request)
        start = parse_time("start", p.get("start"))
        end = parse_time("end", p.get("end"))
        if end < start:
            raise ApiError(
                "bad_data", 'invalid parameter "end": end timestamp must not be before start time'
            )
        step = parse_duration_param("step", p.get("step"))
        if step <= 0:
            raise ApiError(
                "bad_data",
                'invalid parameter "step": zero or negative query resolution step widths are '
                "not accepted. Try a positive integer",
            )
        if (end - start) / step > MAX_POINTS:
            raise ApiError(
                "bad_data",
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)",
            )
        q = p.get("query")
        if not q:
            raise ApiError("bad_data", 'invalid parameter "query": query is empty')
        limit_s = query_timeout(p)
        eng, qb = engine_for(limit_s), store()
        return await run(lambda: eng.range_query(qb, q, start, end, step), limit_s)

    def _window(p: _Params) -> tuple[int | None, int | None]:
        s, e = p.get("start"), p.get("end")
        start = None if s in (None, "") else int(parse_time("start", s) * 1000)
        end = None if e in (None, "") else int(parse_time("end", e) * 1000)
        if start is not None and end is not None and end < start:
            raise ApiError(
                "bad_data", 'invalid parameter "end": end timestamp must not be before start time'
            )
        return start, end

    def _series(
        qb: Queryable, sets: list[list[LabelMatcher]], start: int | None, end: int | None
    ) -> list[dict[str, str]]:
        finder = getattr(qb, "series", None)
        if finder is not None:
            return list(finder(sets, start, end))
        lo = start if start is not None else MIN_TIME * 1000
        hi = end if end is not None else MAX_TIME * 1000
        seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        for ms in sets:
            for s in qb.select(ms, lo, hi):
                seen.setdefault(tuple(sorted(s.labels.items())), dict(s.labels))
        return list(seen.values())

    async def series(request: Request) -> Response:
        """Series matching `match[]` (Prometheus `/api/v1/series`)."""
        p = await _Params.of(request)
        selectors = p.all("match[]")
        if not selectors:
            raise ApiError("bad_data", "no match[] parameter provided")
        sets = [parse_series_selector(s) for s in selectors]
        start, end = _window(p)
        limit = _limit(p)
        qb = store()
        found = await asyncio.to_thread(_series, qb, sets, start, end)
        found.sort(key=lambda lb: sorted(lb.items()))
        items, warnings = _truncate(found, limit)
        return success(items, warnings)

    async def labels(request: Request) -> Response:
        """Label names (Prometheus `/api/v1/labels`)."""
        p = await _Params.of(request)
        sets = [parse_series_selector(s) for s in p.all("match[]")]
        start, end = _window(p)
        limit = _limit(p)
        qb = store()

        def names() -> list[str]:
            if start is not None or end is not None:
                out: set[str] = set()
                for lb in _series(
                    qb, sets or [[LabelMatcher("__name__", MatchOp.RE, ".+")]], start, end
                ):
                    out.update(lb)
                return sorted(out)
            if not sets:
                return qb.label_names()
            got: set[str] = set()
            for ms in sets:
                got.update(qb.label_names(ms))
            return sorted(got)

        items, warnings = _truncate(await asyncio.to_thread(names), limit)
        return success(items, warnings)

    async def label_values(request: Request) -> Response:
        """Values of one label (Prometheus `/api/v1/label/<name>/values`)."""
        name = request.path_params["name"]
        if not _LABEL_NAME.match(name):
            raise ApiError("bad_data", f'invalid label name: "{name}"')
        p = await _Params.of(request)
        sets = [parse_series_selector(s) for s in p.all("match[]")]
        start, end = _window(p)
        limit = _limit(p)
        qb = store()

        def values() -> list[str]:
            if start is not None or end is not None:
                matchers = sets or [[LabelMatcher(name, MatchOp.RE, ".+")]]
                return sorted({lb[name] for lb in _series(qb, matchers, start, end) if name in lb})
            if not sets:
                return qb.label_values(name)
            got: set[str] = set()
            for ms in sets:
                got.update(qb.label_values(name, ms))
            return sorted(got)

        items, warnings = _truncate(await asyncio.to_thread(values), limit)
        return success(items, warnings)

    async def buildinfo(request: Request) -> Response:
        """Build information (Prometheus `/api/v1/status/buildinfo`)."""
        return success(
            {
                "version": tocsin.__version__,
                "revision": "",
                "branch": "",
                "buildUser": "",
                "buildDate": "",
                "goVersion": f"python{platform.python_version()}",
                "application": "tocsin",
            }
        )

    async def metadata(request: Request) -> Response:
        """Metric metadata: tocsin keeps no HELP/TYPE, so always empty."""
        return success({})

    async def exemplars(request: Request) -> Response:
        """Exemplars: tocsin stores none, so always an empty list."""
        return success([])

    def route(path: str, endpoint: Callable[[Request], Any], *methods: str) -> None:
        # One route per method: a route for GET and POST at once gives both
        # operations the same OpenAPI id, which FastAPI warns about.
        for method in methods:
            router.add_api_route(
                path,
                handled(endpoint),
                methods=[method],
                tags=["query"],
                operation_id=f"{endpoint.__name__}_{method.lower()}",
            )

    route("/api/v1/query", query, "GET", "POST")
    route("/api/v1/query_range", query_range, "GET", "POST")
    route("/api/v1/series", series, "GET", "POST")
    route("/api/v1/labels", labels, "GET", "POST")
    route("/api/v1/label/{name}/values", label_values, "GET")
    route("/api/v1/status/buildinfo", buildinfo, "GET")
    route("/api/v1/metadata", metadata, "GET")
    route("/api/v1/query_exemplars", exemplars, "GET", "POST")
    return router
