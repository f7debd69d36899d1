"""Where rules get their data: the local engine, or a remote Prometheus API.

Both answer an instant query with a list of samples, as Prometheus's
`rules.EngineQueryFunc` does: a scalar becomes one sample without labels,
anything else that is not an instant vector is an error.

Template functions are synchronous (`{{ query "..." }}`), so `query_sync`
must return an answer without awaiting. For the local engine that is a
plain call. For a remote datasource the HTTP request runs on the event loop
through the querier's aiohttp session while the calling thread waits; that
only works when the templates themselves run off the loop, which is what
`templates_off_loop` asks of the rule evaluator. Called on the loop anyway,
it raises a QueryError rather than stall the loop (or deadlock it, when the
datasource is this very process).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
from typing import Any, Protocol

import aiohttp

from tocsin.errors import QueryError
from tocsin.promql.engine import Engine
from tocsin.promql.values import Sample, ScalarResult, VectorResult
from tocsin.rules.model import Datasource
from tocsin.tsdb.types import Queryable


class RuleQuerier(Protocol):
    """Instant queries for rule evaluation."""

    templates_off_loop: bool
    """Whether alert templates should be expanded in a worker thread, because
    `query_sync` would otherwise wait on the network inside the event loop."""

    async def query(self, expr: str, t: float) -> list[Sample]: ...

    def query_sync(self, expr: str, t: float) -> list[Sample]:
        """The same, callable from templates (`{{ query "..." }}`)."""
        ...


class LocalQuerier:
    """Queries tocsin's own engine over a Queryable (the tsdb head).

    With `offload`, queries run in a worker thread so that the event loop
    keeps ingesting during a long evaluation (the tsdb is thread-safe).
    """

    templates_off_loop = False

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

    Uses `session` if given (the caller closes it), else makes its own on
    first use and closes it in `aclose`.
    """

    templates_off_loop = True

    def __init__(self, ds: Datasource, *, session: aiohttp.ClientSession | None = None) -> None:
        self.ds = ds
        headers = dict(ds.headers)
        if ds.basic_auth:
            # Not aiohttp.BasicAuth: it refuses ':' in the user and encodes latin-1.
            raw = ":".join(ds.basic_auth).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        if ds.bearer_token:
            headers["Authorization"] = f"Bearer {ds.bearer_token}"
        self._headers = headers
        self._timeout = aiohttp.ClientTimeout(total=ds.timeout)
        self._ssl = not ds.tls_insecure_skip_verify
        self._url = f"{ds.url}/api/v1/query"
        self._session = session
        self._own_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def query(self, expr: str, t: float) -> list[Sample]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._loop = asyncio.get_running_loop()
        return await self._post(self._session, expr, t)

    def query_sync(self, expr: str, t: float) -> list[Sample]:
        if _in_event_loop():
            # Waiting here would stall the loop, and deadlock it outright when
            # the datasource is served by this same process.
            raise QueryError(
                f"datasource {self.ds.url}: synchronous query called on the event loop;"
                " expand templates in a worker thread (templates_off_loop)",
                kind="execution",
            )
        loop = self._loop
        if loop is not None and loop.is_running():
            return asyncio.run_coroutine_threadsafe(self.query(expr, t), loop).result()
        # No loop of ours is running (a script or a test without one): a
        # one-shot session on a private loop.
        return asyncio.run(self._one_shot(expr, t))

    async def _one_shot(self, expr: str, t: float) -> list[Sample]:
        async with aiohttp.ClientSession() as session:
            return await self._post(session, expr, t)

    async def _post(self, session: aiohttp.ClientSession, expr: str, t: float) -> list[Sample]:
        try:
            async with session.post(
                self._url,
                data=_params(expr, t),
                headers=self._headers,
                timeout=self._timeout,
                ssl=self._ssl,
            ) as resp:
                status, body = resp.status, await resp.read()
        except TimeoutError:
            raise QueryError(
                f"datasource {self.ds.url}: no answer within {self.ds.timeout:g}s",
                kind="unavailable",
            ) from None
        except aiohttp.ClientError as exc:
            raise QueryError(f"datasource {self.ds.url}: {exc}", kind="unavailable") from exc
        return _decode(self.ds.url, status, body)

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _params(expr: str, t: float) -> dict[str, str]:
    return {"query": expr, "time": f"{t:.3f}"}


def _decode(url: str, status: int, raw: bytes) -> list[Sample]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise QueryError(
            f"datasource {url}: HTTP {status} with a body that is not JSON",
            kind="unavailable",
        ) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        err = body.get("error") if isinstance(body, dict) else None
        kind = body.get("errorType", "execution") if isinstance(body, dict) else "execution"
        raise QueryError(f"datasource {url}: {err or f'HTTP {status}'}", kind=kind)
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
