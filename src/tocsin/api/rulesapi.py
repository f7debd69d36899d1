"""`/api/v1/rules` and `/api/v1/alerts` in Prometheus's JSON format.

Grafana's rule list and anything else that reads Prometheus's rule API work
against tocsin: groups with their rules, each rule's state, health, last
error, evaluation time and, for alerting rules, the active alerts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tocsin.alerting.matchers import matches_all
from tocsin.api.promapi import ApiError, error, parse_series_selector, success
from tocsin.rules.alerting import ActiveAlert, AlertingRule
from tocsin.rules.group import Group, Rule
from tocsin.rules.manager import RuleManager

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(t: float | None) -> str:
    """Go's RFC3339Nano in UTC (trailing zeros of the fraction dropped)."""
    if t is None:
        return ZERO_TIME
    dt = datetime.fromtimestamp(t, tz=UTC)
    frac = f"{dt.microsecond:06d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def go_float_e(v: float) -> str:
    """strconv.FormatFloat(v, 'e', -1, 64), as Prometheus prints alert values."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    for prec in range(17):  # the shortest mantissa that reads back exactly
        text = f"{v:.{prec}e}"
        if float(text) == v:
            return text
    return f"{v:.16e}"


def alert_json(a: ActiveAlert) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": a.labels,
        "annotations": a.annotations,
        "state": str(a.state),
        "activeAt": rfc3339(a.active_at),
        "value": go_float_e(a.value),
    }
    if a.keep_firing_since is not None:
        out["keepFiringSince"] = rfc3339(a.keep_firing_since)
    return out


def rule_json(rule: Rule, exclude_alerts: bool) -> dict[str, Any]:
    st = rule.status
    common: dict[str, Any] = {
        "name": rule.name,
        "query": rule.expr,
        "labels": rule.labels,
        "health": str(st.health),
        "evaluationTime": st.evaluation_seconds,
        "lastEvaluation": rfc3339(st.last_evaluation),
    }
    if st.last_error:
        common["lastError"] = st.last_error
    if isinstance(rule, AlertingRule):
        out = {
            "state": str(rule.state()),
            **common,
            "duration": rule.hold,
            "keepFiringFor": rule.keep_firing_for,
            "annotations": rule.annotations,
            "type": "alerting",
        }
        if not exclude_alerts:
            out["alerts"] = [alert_json(a) for a in _sorted_alerts(rule)]
        return out
    return {**common, "type": "recording"}


def _sorted_alerts(rule: AlertingRule) -> list[ActiveAlert]:
    return sorted(rule.active_alerts(), key=lambda a: sorted(a.labels.items()))


def group_json(g: Group, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": g.name,
        "file": g.file,
        "rules": rules,
        "interval": g.interval,
        "limit": g.limit,
        "evaluationTime": g.evaluation_seconds,
        "lastEvaluation": rfc3339(g.last_evaluation),
    }


ManagerSource = RuleManager | Callable[[], RuleManager | None]


def make_rules_router(manager: ManagerSource) -> APIRouter:
    """The router for `/api/v1/rules` and `/api/v1/alerts`.

    `manager` is the RuleManager, or a callable returning the current one
    (None while rules are not loaded: the answers are then empty).
    """
    router = APIRouter()

    def current() -> RuleManager | None:
        return manager if isinstance(manager, RuleManager) else manager()

    @router.get("/api/v1/rules")
    async def rules(request: Request) -> Response:
        q = request.query_params
        kind = q.get("type", "")
        if kind not in ("", "alert", "record"):
            return error("bad_data", f'invalid query parameter type="{kind}"')
        exclude = q.get("exclude_alerts", "false").lower() in ("1", "true")
        names = set(q.getlist("rule_name[]"))
        group_names = set(q.getlist("rule_group[]"))
        files = set(q.getlist("file[]"))
        try:
            sets = [parse_series_selector(text) for text in q.getlist("match[]")]
        except ApiError as exc:
            return error(exc.kind, str(exc))
        out = []
        m = current()
        for g in m.groups if m else []:
            if group_names and g.name not in group_names:
                continue
            if files and g.file not in files:
                continue
            items = []
            for r in g.rules:
                is_alert = isinstance(r, AlertingRule)
                if (kind == "alert" and not is_alert) or (kind == "record" and is_alert):
                    continue
                if names and r.name not in names:
                    continue
                if sets and not any(matches_all(ms, r.labels) for ms in sets):
                    continue
                items.append(rule_json(r, exclude))
            if (kind or names or sets) and not items:
                continue
            out.append(group_json(g, items))
        return success({"groups": out})

    @router.get("/api/v1/alerts")
    async def alerts() -> Response:
        m = current()
        out: list[dict[str, Any]] = []
        for g in m.groups if m else []:
            for r in g.rules:
                if isinstance(r, AlertingRule):
                    out.extend(alert_json(a) for a in _sorted_alerts(r))
        return success({"alerts": out})

    return router
