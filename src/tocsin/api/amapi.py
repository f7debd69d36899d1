"""Alertmanager API v2 (what Prometheus, amtool and Grafana speak) and tocsin's
alert history endpoints, on a Dispatcher.

    app.include_router(make_router(dispatcher, config_text=original_yaml))

Shapes, filters and status codes follow Alertmanager's OpenAPI spec. Errors
are a JSON string body, as Alertmanager sends them.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import platform
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, cast

import orjson
import yaml
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from tocsin import __version__
from tocsin.alerting.dispatcher import AlertsRejected, AlertStatus, Dispatcher
from tocsin.alerting.matchers import (
    MatcherError,
    matcher_from_api,
    matcher_to_api,
    matches_all,
    parse_matchers,
)
from tocsin.alerting.model import Alert
from tocsin.alerting.routing import Route
from tocsin.alerting.silences import Silence, SilenceError, SilenceState
from tocsin.alerting.store import StoredAlert, all_strings
from tocsin.tsdb.types import LabelMatcher

_ZERO_YEAR = 1  # Go's zero time.Time marshals as 0001-01-01T00:00:00Z
_FRACTION = re.compile(r"(\.\d{6})\d+")


# Alerts put together share their times: a listing formats each one once.
@functools.lru_cache(maxsize=65536)
def format_time(t: float) -> str:
    """RFC 3339 in UTC with milliseconds, as Alertmanager prints times."""
    ms = round(t * 1000)
    return f"{_second(ms // 1000)}.{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=65536)
def _second(s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))


def parse_time(value: Any, field: str) -> float | None:
    """An RFC 3339 time (Go's zero time and empty mean "not given")."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} must be an RFC 3339 string")
    try:
        return _timestamp(value)
    except _NoTimeZone:
        raise ValueError(f"{field}: time {value!r} has no time zone") from None
    except ValueError:
        raise ValueError(f"{field}: invalid RFC 3339 time {value!r}") from None


class _NoTimeZone(ValueError):
    pass


# Prometheus sends every alert of one evaluation with the same `endsAt` (and
# often the same `startsAt`): parse each text once.
@functools.lru_cache(maxsize=4096)
def _timestamp(value: str) -> float | None:
    text = _FRACTION.sub(r"\1", value.strip())
    dt = datetime.fromisoformat(text.replace("z", "Z"))
    if dt.tzinfo is None:
        raise _NoTimeZone
    if dt.year == _ZERO_YEAR:
        return None
    return dt.timestamp()


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(message: str, status: int = 400) -> Response:
    return _json(message, status)


def _bool(value: str | None, default: bool, name: str) -> bool:
    if value is None:
        return default
    v = value.lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise ValueError(f"{name}: invalid boolean {value!r}")


def _filters(values: Sequence[str]) -> list[LabelMatcher]:
    out: list[LabelMatcher] = []
    for text in values:
        try:
            out.extend(parse_matchers(text))
        except MatcherError as exc:
            raise ValueError(f"bad matcher format: {text}: {exc}") from None
    return out


def _receiver_regex(value: str | None) -> re.Pattern[str] | None:
    if not value:
        return None
    try:
        return re.compile(f"^(?:{value})$")
    except re.error as exc:
        raise ValueError(f"failed to parse receiver param: {exc}") from None


def _post_alert(item: Any, i: int) -> Alert:
    if not isinstance(item, dict):
        raise ValueError(f"alerts[{i}]: must be an object")
    labels = item.get("labels")
    if not isinstance(labels, dict) or not all_strings(labels.values()):
        raise ValueError(f"alerts[{i}].labels: must be an object of strings")
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict) or not all_strings(annotations.values()):
        raise ValueError(f"alerts[{i}].annotations: must be an object of strings")
    url = item.get("generatorURL") or ""
    if not isinstance(url, str):
        raise ValueError(f"alerts[{i}].generatorURL: must be a string")
    # The field names are formatted only for a time that is there.
    starts = item.get("startsAt")
    ends = item.get("endsAt")
    return Alert(
        labels,
        annotations,
        None if starts is None else parse_time(starts, f"alerts[{i}].startsAt"),
        None if ends is None else parse_time(ends, f"alerts[{i}].endsAt"),
        url,
    )


def silence_json(s: Silence, now: float) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": {"state": s.state(now).value},
        "updatedAt": format_time(s.updated_at),
        "matchers": [matcher_to_api(m) for m in s.matchers],
        "startsAt": format_time(s.starts_at),
        "endsAt": format_time(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
    }


def _silence_order(s: Silence, now: float) -> tuple[int, float]:
    # Alertmanager's order: active by soonest end, pending by soonest start,
    # expired by latest end.
    state = s.state(now)
    if state is SilenceState.ACTIVE:
        return (0, s.ends_at)
    if state is SilenceState.PENDING:
        return (1, s.starts_at)
    return (2, -s.ends_at)


def make_router(
    dispatcher: Dispatcher,
    *,
    config_text: str | None = None,
    history_prefix: str = "/api/tocsin/v1",
) -> APIRouter:
    """The v2 API (under /api/v2) and the history endpoints (under `history_prefix`).

    `config_text` is what /api/v2/status shows as `config.original`; by
    default the effective config with every secret masked.
    """
    router = APIRouter(tags=["alertmanager"])
    d = dispatcher

    def now() -> float:
        return d.clock.now()

    # The parts of an alert's JSON that change only with the alert itself or
    # the config, by fingerprint: listing 100,000 alerts renders them once.
    static: dict[str, tuple[float, int, dict[str, Any]]] = {}

    def alert_json(a: StoredAlert, t: float, muted_by: Sequence[str] = ()) -> dict[str, Any]:
        cached = static.get(a.fingerprint)
        if cached is None or cached[0] != a.updated_at or cached[1] != d.generation:
            cached = static[a.fingerprint] = (a.updated_at, d.generation, static_json(a))
        return {**cached[2], "status": status_json(d.alert_status(a, t, muted_by))}

    # JSON parts many alerts share: receiver lists by route match (a reload
    # makes new routes, so new keys) and status objects by status.
    receivers: dict[tuple[Route, ...], list[dict[str, str]]] = {}
    statuses: dict[AlertStatus, dict[str, Any]] = {}

    def status_json(st: AlertStatus) -> dict[str, Any]:
        found = statuses.get(st)
        if found is None:
            if len(statuses) > 10_000:
                statuses.clear()
            found = statuses[st] = {
                "state": st.state,
                "silencedBy": list(st.silenced_by),
                "inhibitedBy": list(st.inhibited_by),
                "mutedBy": list(st.muted_by),
            }
        return found

    def static_json(a: StoredAlert) -> dict[str, Any]:
        routes = d.tree.matching(a.labels)
        names = receivers.get(routes)
        if names is None:
            if len(receivers) > 10_000:
                receivers.clear()
            names = receivers[routes] = [{"name": r.receiver} for r in routes]
        return {
            "labels": dict(a.labels),
            "annotations": dict(a.annotations),
            "startsAt": format_time(a.starts_at),
            "endsAt": format_time(a.ends_at),
            "updatedAt": format_time(a.updated_at),
            "generatorURL": a.generator_url,
            "fingerprint": a.fingerprint,
            "receivers": names,
        }

    def forget_gone() -> None:
        """Called before a listing: forget the JSON of alerts that are gone."""
        if len(static) > 2 * len(d.alerts) + 1000:
            static.clear()

    def selected(
        a: StoredAlert,
        t: float,
        matchers: Sequence[LabelMatcher],
        flags: Mapping[str, bool],
        receiver: re.Pattern[str] | None,
        muted_by: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        if a.resolved(t) or (matchers and not matches_all(matchers, a.labels)):
            return None
        out = alert_json(a, t, muted_by)
        if receiver is not None and not any(receiver.match(r["name"]) for r in out["receivers"]):
            return None
        st = out["status"]
        if not flags["active"] and st["state"] == "active":
            return None
        if not flags["unprocessed"] and st["state"] == "unprocessed":
            return None
        if not flags["silenced"] and st["silencedBy"]:
            return None
        if not flags["inhibited"] and st["inhibitedBy"]:
            return None
        return out

    def read_flags(request: Request, names: Sequence[str]) -> dict[str, bool]:
        q = request.query_params
        return {n: _bool(q.get(n), True, n) for n in names}

    @router.get("/api/v2/alerts")
    async def get_alerts(
        request: Request,
        filter: Annotated[list[str] | None, Query()] = None,
        receiver: str | None = None,
    ) -> Response:
        try:
            flags = read_flags(request, ("active", "silenced", "inhibited", "unprocessed"))
            matchers = _filters(filter or [])
            rx = _receiver_regex(receiver)
        except ValueError as exc:
            return _error(str(exc))
        t = now()
        forget_gone()
        with _no_gc():
            out = [j for a in d.alerts if (j := selected(a, t, matchers, flags, rx)) is not None]
            out.sort(key=lambda j: str(j["fingerprint"]))
            body = orjson.dumps(out)
            del out  # see _no_gc
        return Response(body, media_type="application/json")

    async def post_alerts(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return _error(f"invalid JSON body: {exc}")
        if not isinstance(body, list):
            return _error("body must be a list of alerts")
        alerts: list[Alert] = []
        errors: list[str] = []
        for i, item in enumerate(body):
            try:
                alerts.append(_post_alert(item, i))
            except ValueError as exc:
                errors.append(str(exc))
        try:
            await d.put(alerts)
        except AlertsRejected as exc:
            errors.extend(exc.errors)
        if errors:
            return _error("; ".join(errors))
        return Response(status_code=200)

    router.add_api_route(
        "/api/v2/alerts", post_alerts, methods=["POST"], route_class_override=_DirectRoute
    )

    @router.get("/api/v2/alerts/groups")
    async def get_groups(
        request: Request,
        filter: Annotated[list[str] | None, Query()] = None,
        receiver: str | None = None,
    ) -> Response:
        try:
            flags = read_flags(request, ("active", "silenced", "inhibited", "muted"))
            flags["unprocessed"] = True
            matchers = _filters(filter or [])
            rx = _receiver_regex(receiver)
        except ValueError as exc:
            return _error(str(exc))
        t = now()
        forget_gone()
        out: list[dict[str, Any]] = []
        with _no_gc():
            for g in d.groups.values():
                if rx is not None and not rx.match(g.receiver):
                    continue
                muted_by = d.group_muted_by(g, t)
                if muted_by and not flags["muted"]:
                    continue
                alerts = []
                for fp in sorted(g.fingerprints):
                    a = d.alerts.get(fp)
                    if a is None:
                        continue
                    if (j := selected(a, t, matchers, flags, None, muted_by)) is not None:
                        alerts.append(j)
                if alerts:
                    out.append(
                        {
                            "labels": dict(g.labels),
                            # Route labels as configured (not template-expanded).
                            "routeLabels": dict(g.route.labels),
                            "receiver": {"name": g.receiver},
                            "alerts": alerts,
                        }
                    )
            out.sort(key=lambda g: (sorted(g["labels"].items()), g["receiver"]["name"]))
            body = orjson.dumps(out)
            del out  # see _no_gc
        return Response(body, media_type="application/json")

    @router.get("/api/v2/silences")
    async def get_silences(
        filter: Annotated[list[str] | None, Query()] = None,
    ) -> Response:
        try:
            matchers = _filters(filter or [])
        except ValueError as exc:
            return _error(str(exc))
        t = now()
        found = [s for s in d.silences.query(now=t) if _silence_matches(s, matchers)]
        found.sort(key=lambda s: _silence_order(s, t))
        return _json([silence_json(s, t) for s in found])

    @router.post("/api/v2/silences")
    async def post_silences(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return _error(f"invalid JSON body: {exc}")
        if not isinstance(body, dict):
            return _error("body must be a silence object")
        try:
            raw = body.get("matchers")
            if not isinstance(raw, list):
                raise ValueError("matchers: required, a list")
            matchers = [matcher_from_api(m) for m in raw]
            starts = parse_time(body.get("startsAt"), "startsAt")
            ends = parse_time(body.get("endsAt"), "endsAt")
            if starts is None or ends is None:
                raise ValueError("startsAt and endsAt are required")
        except (ValueError, MatcherError) as exc:
            return _error(str(exc))
        if ends <= starts:
            return _error("Failed to create silence: start time must be before end time")
        if ends < now():
            return _error("Failed to create silence: end time can't be in the past")
        created_by = str(body.get("createdBy") or "")
        comment = str(body.get("comment") or "")
        sid = body.get("id") or ""
        try:
            if sid:
                sil = d.silences.update(
                    str(sid),
                    matchers=matchers,
                    starts_at=starts,
                    ends_at=ends,
                    created_by=created_by,
                    comment=comment,
                )
            else:
                sil = d.silences.add(
                    matchers, ends, starts_at=starts, created_by=created_by, comment=comment
                )
        except SilenceError as exc:
            return _error(str(exc), 404 if exc.not_found else 400)
        d.save_silences()
        return _json({"silenceID": sil.id})

    def _check_id(silence_id: str) -> Response | None:
        try:
            uuid.UUID(silence_id)
        except ValueError:
            return _error(f"silenceID in path must be of type uuid: {silence_id!r}", 422)
        return None

    @router.get("/api/v2/silence/{silence_id}")
    async def get_silence(silence_id: str) -> Response:
        if (bad := _check_id(silence_id)) is not None:
            return bad
        try:
            sil = d.silences.get(silence_id)
        except SilenceError as exc:
            return _error(str(exc), 404)
        return _json(silence_json(sil, now()))

    @router.delete("/api/v2/silence/{silence_id}")
    async def delete_silence(silence_id: str) -> Response:
        if (bad := _check_id(silence_id)) is not None:
            return bad
        try:
            d.silences.expire(silence_id)
        except SilenceError as exc:
            return _error(str(exc), 404)
        d.save_silences()
        return Response(status_code=200)

    @router.get("/api/v2/status")
    async def get_status() -> Response:
        original = config_text
        if original is None:
            original = yaml.safe_dump(d.config.masked(), sort_keys=False)
        return _json(
            {
                "cluster": {"name": "", "status": "disabled", "peers": []},
                "versionInfo": {
                    "version": __version__,
                    "revision": "",
                    "branch": "",
                    "buildUser": "",
                    "buildDate": "",
                    "goVersion": f"python{platform.python_version()}",
                },
                "config": {"original": original},
                "uptime": format_time(d.started_at),
            }
        )

    @router.get("/api/v2/receivers")
    async def get_receivers() -> Response:
        return _json([{"name": r.name} for r in d.config.receivers])

    # -- tocsin's own: history ------------------------------------------------

    @router.get(f"{history_prefix}/alerts/history", tags=["tocsin"])
    async def alert_history(
        fingerprint: str | None = None,
        since: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> Response:
        """Alert state changes (new, firing, resolved), newest first."""
        try:
            t = _since(since)
        except ValueError as exc:
            return _error(str(exc))
        rows = d.state.alert_history(fingerprint=fingerprint, since=t, limit=limit)
        return _json(
            [
                {
                    "fingerprint": r.fingerprint,
                    "at": format_time(r.at),
                    "from": r.old_state or None,
                    "to": r.new_state,
                    "labels": r.labels,
                    "annotations": r.annotations,
                    "startsAt": format_time(r.starts_at),
                    "endsAt": format_time(r.ends_at),
                }
                for r in rows
            ]
        )

    @router.get(f"{history_prefix}/silences/history", tags=["tocsin"])
    async def silence_history(
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> Response:
        """Every silence ever created (expired and forgotten ones too), latest change first."""
        t = now()
        rows = sorted(d.state.load_silences(), key=lambda s: -float(s.get("updated_at", 0)))
        return _json([silence_json(Silence.from_dict(s), t) for s in rows[:limit]])

    @router.get(f"{history_prefix}/notifications", tags=["tocsin"])
    async def notifications(
        receiver: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> Response:
        """Deliveries per integration and flush, failed ones included, newest first."""
        rows = d.state.notifications(receiver=receiver, limit=limit)
        return _json(
            [
                {
                    "id": r.id,
                    "at": format_time(r.at),
                    "receiver": r.receiver,
                    "integration": r.integration,
                    "groupKey": r.group_key,
                    "status": r.status,
                    "reason": r.reason,
                    "ok": r.ok,
                    "attempts": r.attempts,
                    "error": r.error,
                    "firing": list(r.firing),
                    "resolved": list(r.resolved),
                }
                for r in rows
            ]
        )

    @router.get(f"{history_prefix}/notifications/attempts", tags=["tocsin"])
    async def attempts(
        receiver: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> Response:
        """Every delivery attempt (retries included), newest first."""
        rows = d.state.attempts(receiver=receiver, limit=limit)
        # Built key by key: the row's own keys are SQLAlchemy names (a str
        # subclass orjson refuses as a key), and the API spells them in camelCase.
        return _json(
            [
                {
                    "id": r["id"],
                    "at": format_time(r["at"]),
                    "receiver": r["receiver"],
                    "integration": r["integration"],
                    "groupKey": r["group_key"],
                    "attempt": r["attempt"],
                    "duration": r["duration"],
                    "ok": r["ok"],
                    "retryable": r["retryable"],
                    "error": r["error"],
                    "statusCode": r["status_code"],
                    "final": r["final"],
                    "detail": r["detail"],
                }
                for r in rows
            ]
        )

    return router


class _DirectRoute(APIRoute):
    """A route whose endpoint takes the Request and makes the Response itself:
    listed in the OpenAPI document like the others, but called without
    FastAPI's per-request parameter solving (the hot POST of alerts)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while rendering a large listing.

    Rendering 100,000 alerts allocates a few hundred thousand small acyclic
    objects; each allocation burst would trigger full collections that walk
    every live object of the process, which costs more than the rendering.
    Drop the rendered objects before the block ends: the first allocation
    after it would otherwise start a collection that walks them all (the
    collector counts objects freed meanwhile off again).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _silence_matches(s: Silence, filters: Sequence[LabelMatcher]) -> bool:
    """Alertmanager's silence filter: every filter matcher must accept the
    silence's matcher of that name (by its value)."""
    return matches_all(filters, {m.name: m.value for m in s.matchers})


def _since(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return parse_time(value, "since")
