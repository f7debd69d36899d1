"""The FastAPI application: one process serves API, metrics and status page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from tocsin import __version__
from tocsin.api import targets
from tocsin.api.facade import EngineFacade
from tocsin.detect.types import TargetState
from tocsin.web.status_page import render_status_page

CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"


def create_app(engine: EngineFacade, routers: Sequence[APIRouter] = ()) -> FastAPI:
    app = FastAPI(
        title="tocsin",
        version=__version__,
        description="Fleet state, Prometheus-compatible query API and "
        "Alertmanager-compatible alert API.",
    )
    app.state.engine = engine
    app.include_router(targets.router)
    for router in routers:
        app.include_router(router)

    # GET and HEAD, as Alertmanager's management API answers both (HEAD kept out
    # of the OpenAPI schema: one operation per path is enough there).
    @app.get("/-/healthy", response_class=PlainTextResponse, tags=["ops"])
    @app.head("/-/healthy", response_class=PlainTextResponse, include_in_schema=False)
    def healthy() -> str:
        return "OK"

    @app.get("/-/ready", response_class=PlainTextResponse, tags=["ops"])
    @app.head("/-/ready", response_class=PlainTextResponse, include_in_schema=False)
    def ready(request: Request) -> Response:
        if request.app.state.engine.is_ready():
            return PlainTextResponse("OK")
        return PlainTextResponse("Service Unavailable", status_code=503)

    @app.post("/-/reload", response_class=PlainTextResponse, tags=["ops"])
    async def reload(request: Request) -> Response:
        outcome = await request.app.state.engine.reload()
        if outcome.ok:
            return PlainTextResponse("OK")
        # Alertmanager answers a failed reload with 500 and the reason.
        return PlainTextResponse(f"failed to reload config: {outcome.error}", status_code=500)

    @app.get("/metrics", tags=["ops"])
    def metrics(request: Request) -> Response:
        return Response(request.app.state.engine.metrics_text(), media_type=CONTENT_TYPE_METRICS)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def status_page(
        request: Request,
        state: str | None = None,
        q: str = "",
        page: Annotated[int, Query(ge=1)] = 1,
    ) -> str:
        if state == "":
            state = None
        if state is not None and state not in {s.value for s in TargetState}:
            raise HTTPException(400, f"invalid state {state!r}")
        e: EngineFacade = request.app.state.engine
        return render_status_page(
            e.targets(),
            e.source_health(),
            e.source_incidents(),
            state=state,
            query=q,
            page=page,
            now=e.now(),
        )

    return app
