"""tocsin's own REST API for fleet state: targets, sources, heartbeats."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from tocsin.api.facade import EngineFacade
from tocsin.detect.types import TargetState
from tocsin.sources.types import SourceHealth

router = APIRouter(prefix="/api/tocsin/v1", tags=["fleet"])

_LABEL_FILTER = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)(!?=)(.*)$")


def _engine(request: Request) -> EngineFacade:
    engine: EngineFacade = request.app.state.engine
    return engine


def _source_json(h: SourceHealth, incident: str | None) -> dict[str, Any]:
    return {
        "name": h.name,
        "healthy": h.healthy,
        "circuit": h.circuit.value,
        "targets": h.targets,
        "last_sweep_at": h.last_sweep_at,
        "last_sweep_seconds": h.last_sweep_seconds,
        "last_error": h.last_error,
        "consecutive_failures": h.consecutive_failures,
        "requests_total": h.requests_total,
        "budget_per_minute": h.budget_per_minute,
        "budget_available": h.budget_available,
        "estimated_calls_per_hour": h.estimated_calls_per_hour,
        "incident": incident,
    }


@router.get("/targets")
def list_targets(
    request: Request,
    state: Annotated[
        str | None, Query(description="unknown, up, down, flapping or expected_off")
    ] = None,
    source: str | None = None,
    label: Annotated[
        list[str] | None,
        Query(description="label filter `name=value` or `name!=value`; repeat to AND them"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Targets filtered by state, source and labels."""
    wanted_state: TargetState | None = None
    if state is not None:
        try:
            wanted_state = TargetState(state)
        except ValueError:
            valid = ", ".join(s.value for s in TargetState)
            raise HTTPException(400, f"invalid state {state!r}: expected one of {valid}") from None
    filters: list[tuple[str, bool, str]] = []
    for raw in label or []:
        m = _LABEL_FILTER.match(raw)
        if not m:
            raise HTTPException(
                400, f"invalid label filter {raw!r}: expected name=value or name!=value"
            )
        filters.append((m.group(1), m.group(2) == "=", m.group(3)))

    rows = []
    for t in _engine(request).targets():
        if wanted_state is not None and t.state is not wanted_state:
            continue
        if source is not None and t.source != source:
            continue
        if any((t.labels.get(k, "") == v) != eq for k, eq, v in filters):
            continue
        rows.append(t)
    return {
        "total": len(rows),
        "offset": offset,
        "targets": [t.to_json() for t in rows[offset : offset + limit]],
    }


@router.get("/targets/{target_id}")
def get_target(
    request: Request, target_id: str, history: Annotated[int, Query(ge=0, le=10_000)] = 50
) -> dict[str, Any]:
    """One target with its recent state changes and the reason for each."""
    engine = _engine(request)
    row = engine.target(target_id)
    if row is None:
        raise HTTPException(404, f"unknown target {target_id!r}")
    return {**row.to_json(), "history": engine.target_history(target_id, history)}


@router.get("/events")
def list_events(
    request: Request,
    source: str | None = None,
    target: str | None = None,
    kind: Annotated[
        str | None, Query(description="target, source (source-level states) or forgotten")
    ] = None,
    since: Annotated[float | None, Query(description="Unix seconds, inclusive")] = None,
    before_id: Annotated[int | None, Query(ge=1, description="page further back")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    """The append-only event log, newest first: target and source state changes."""
    return {
        "events": _engine(request).events(
            source=source,
            target_id=target,
            kind=kind,
            since=since,
            before_id=before_id,
            limit=limit,
        )
    }


@router.get("/sources")
def list_sources(request: Request) -> dict[str, Any]:
    """Each source with its health, circuit state, budget and call estimate."""
    engine = _engine(request)
    incidents = engine.source_incidents()
    return {"sources": [_source_json(h, incidents.get(h.name)) for h in engine.source_health()]}


@router.post("/heartbeat/{target_id}")
def heartbeat(
    request: Request,
    target_id: str,
    ok: Annotated[
        bool, Query(description="false: the job reports its own failure (down until the next ok)")
    ] = True,
) -> dict[str, Any]:
    """A ping from a heartbeat target (a cron job, a device): it is alive now."""
    engine = _engine(request)
    if not engine.heartbeat(target_id, ok=ok):
        raise HTTPException(404, f"no heartbeat target {target_id!r} is configured")
    return {"status": "ok", "target": target_id, "ok": ok, "at": engine.now()}
