"""Where rules get their data: the local engine, or a remote Prometheus API.

Both answer an instant query with a list of samples, as Prometheus's
`rules.EngineQueryFunc` does: a scalar becomes one sample without labels,
anything else that is not an instant vector is an error.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Protocol

import httpx

from tocsin.errors import QueryError
from tocsin.promql.engine import Engine
from tocsin.promql.values import Sample, ScalarResult, VectorResult
from tocsin.rules.model import Datasource
from tocsin.tsdb.types import Queryable


class RuleQuerier(Protocol):
    """Instant queries for rule evaluation."""

    async def query(self, expr: str, t: float) -> list[Sample]: ...

    def query_sync(self, expr: str, t: float) -> list[Sample]:
        """The same, callable from templates (`{{ query "..." }}`)."""
        ...


class LocalQuerier:
    """Queries tocsin's own engine over a Queryable (the tsdb head).

    With `offload`, queries run in a worker thread so that the event loop
    keeps ingesting during a long evaluation (the tsdb is thread-safe).
    """

    def __init__(self, engine: Engine, queryable: Queryable, *, offload: bool = False) -> None:
        self.engine = engine
        self.queryable = queryable
        self.offload = offload

    async def query(self, expr: str, t: float) -> list[Sample]:
        if self.offload:
            return await asyncio.to_thread(self.query_sync, expr, t)
        return self.query_sync(expr, t)

    def query_sync(self, expr: str, t: float) -> list[Sample]:
        res = self.engine.instant_query(self.queryable, expr, t)
        if isinstance(res, VectorResult):
            return res.samples
        if isinstance(res, ScalarResult):
            return [Sample({}, res.value, res.t_ms)]
        raise QueryError("rule result is not a vector or scalar", kind="execution")


class RemoteQuerier:
    """Instant queries against a Prometheus-compatible `/api/v1/query`.

    `transport` lets tests inject an httpx transport; by default real HTTP.
    """

    def __init__(
        self,
        ds: Datasource,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sync_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.ds = ds
        headers = dict(ds.headers)
        if ds.bearer_token:
            headers["Authorization"] = f"Bearer {ds.bearer_token}"
        common: dict[str, Any] = {
            "headers": headers,
            "timeout": ds.timeout,
            "verify": not ds.tls_insecure_skip_verify,
            "auth": httpx.BasicAuth(*ds.basic_auth) if ds.basic_auth else None,
        }
        self._client = httpx.AsyncClient(transport=transport, **common)
        self._sync = httpx.Client(transport=sync_transport, **common)
        self._url = f"{ds.url}/api/v1/query"

    async def query(self, expr: str, t: float) -> list[Sample]:
        try:
            resp = await self._client.post(self._url, data=_params(expr, t))
        except httpx.HTTPError as exc:
            raise QueryError(f"datasource {self.ds.url}: {exc}", kind="unavailable") from exc
        return _decode(self.ds.url, resp)

    def query_sync(self, expr: str, t: float) -> list[Sample]:
        try:
            resp = self._sync.post(self._url, data=_params(expr, t))
        except httpx.HTTPError as exc:
            raise QueryError(f"datasource {self.ds.url}: {exc}", kind="unavailable") from exc
        return _decode(self.ds.url, resp)

    async def aclose(self) -> None:
        await self._client.aclose()
        self._sync.close()


def _params(expr: str, t: float) -> dict[str, str]:
    return {"query": expr, "time": f"{t:.3f}"}


def _decode(url: str, resp: httpx.Response) -> list[Sample]:
    try:
        body = resp.json()
    except ValueError:
        raise QueryError(
            f"datasource {url}: HTTP {resp.status_code} with a body that is not JSON",
            kind="unavailable",
        ) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        err = body.get("error") if isinstance(body, dict) else None
        kind = body.get("errorType", "execution") if isinstance(body, dict) else "execution"
        raise QueryError(f"datasource {url}: {err or f'HTTP {resp.status_code}'}", kind=kind)
    data = body.get("data") or {}
    rtype = data.get("resultType")
    result: Any = data.get("result") or []
    if rtype == "scalar":
        t, v = result
        return [Sample({}, _float(v), round(float(t) * 1000))]
    if rtype != "vector":
        raise QueryError("rule result is not a vector or scalar", kind="execution")
    out = []
    for item in result:
        t, v = item["value"]
        out.append(Sample(dict(item["metric"]), _float(v), round(float(t) * 1000)))
    return out


def _float(v: str) -> float:
    if v in ("+Inf", "Inf"):
        return math.inf
    if v == "-Inf":
        return -math.inf
    return float(v)
