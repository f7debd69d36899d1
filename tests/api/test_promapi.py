from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from tocsin.api.promapi import make_router
from tocsin.clock import FakeClock
from tocsin.errors import QueryError
from tocsin.promql import Engine
from tocsin.tsdb.db import TSDB

T = 1_700_000_000.0
ZONES = [
    {
        "__name__": "zone_up",
        "venue": f"v{i % 3}",
        "zone": f"z{i}",
        "importance": "high" if i < 2 else "low",
    }
    for i in range(9)
]


def _up(i: int, k: int) -> float:
    return 0.0 if (i + k) % 4 == 0 else 1.0


@pytest.fixture
def db() -> TSDB:
    db = TSDB().open()
    for k in range(20):
        db.append_batch(
            ZONES, int((T - 300 + 15 * k) * 1000), np.array([_up(i, k) for i in range(9)])
        )
    return db


def _app(db: Any, engine: Any, **kw: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(make_router(db, engine, clock=FakeClock(T), **kw))
    return app


@pytest.fixture
async def client(db: TSDB) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(db, Engine()))
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin") as c:
        yield c


async def test_instant_query_vector(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/v1/query", params={"query": "sum by (venue) (zone_up)", "time": str(T)}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "vector"
    got = {s["metric"]["venue"]: s["value"] for s in body["data"]["result"]}
    k = 19  # the last sample at T - 15s is the newest within the lookback
    for v in ("v0", "v1", "v2"):
        expected = sum(_up(i, k) for i in range(9) if ZONES[i]["venue"] == v)
        assert got[v] == [T, str(int(expected))]


async def test_query_defaults_time_to_now_and_accepts_form_post(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/query",
        data={"query": "count(zone_up == 0)"},
        params={"query": "ignored by the body"},
    )
    assert r.status_code == 200, r.text
    (sample,) = r.json()["data"]["result"]
    assert sample["value"][0] == T
    assert sample["value"][1] == str(sum(_up(i, 19) == 0 for i in range(9)))


async def test_query_range_with_rfc3339_and_duration_step(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/v1/query_range",
        params={
            "query": 'zone_up{zone="z1"}',
            "start": "2023-11-14T22:10:00Z",  # T - 200s
            "end": str(T),
            "step": "1m",
        },
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["resultType"] == "matrix"
    (series,) = data["result"]
    assert series["metric"] == {k: v for k, v in ZONES[1].items()}
    times = [p[0] for p in series["values"]]
    assert times == [T - 200 + 60 * j for j in range(4)]
    for t, v in series["values"]:
        k = int((t - (T - 300)) // 15)
        assert v == str(int(_up(1, k)))


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("/api/v1/query", {}, "query is empty"),
        ("/api/v1/query", {"query": "up", "time": "yesterday"}, 'invalid parameter "time"'),
        ("/api/v1/query", {"query": "sum(("}, ""),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "10", "end": "5", "step": "1"},
            "before start",
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "5", "step": "0"},
            "zero or negative",
        ),
        ("/api/v1/query_range", {"query": "up", "start": "0", "end": "5", "step": "x"}, '"step"'),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "100000", "step": "1"},
            "11,000",
        ),
        ("/api/v1/query_range", {"query": "up", "end": "5", "step": "1"}, '"start"'),
        ("/api/v1/series", {}, "no match[]"),
        ("/api/v1/series", {"match[]": "{}"}, "non-empty matcher"),
        ("/api/v1/series", {"match[]": "up{"}, "match[]"),
        ("/api/v1/series", {"match[]": "sum(up)"}, "not a series selector"),
        ("/api/v1/labels", {"limit": "-1"}, '"limit"'),
        ("/api/v1/label/0bad/values", {}, "invalid label name"),
        # Times outside +-2**62 ms are refused (they were a 500 from an int64 overflow).
        ("/api/v1/query", {"query": "up", "time": "1e17"}, 'invalid parameter "time"'),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "1e17", "end": "1e17", "step": "1"},
            'invalid parameter "start"',
        ),
        ("/api/v1/series", {"match[]": "up", "end": "1e20"}, 'invalid parameter "end"'),
        ("/api/v1/labels", {"start": "-1e20"}, 'invalid parameter "start"'),
        ("/api/v1/label/zone/values", {"start": "-1e20"}, 'invalid parameter "start"'),
    ],
)
async def test_bad_data_errors(
    client: httpx.AsyncClient, path: str, params: dict[str, str], fragment: str
) -> None:
    r = await client.get(path, params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status"] == "error"
    assert body["errorType"] == "bad_data"
    assert fragment in body["error"]


async def test_sample_limit_is_an_execution_error(db: TSDB) -> None:
    transport = httpx.ASGITransport(app=_app(db, Engine(), max_samples=3))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/api/v1/query", params={"query": "sum(zone_up)", "time": str(T)})
    assert r.status_code == 422
    assert r.json()["errorType"] == "execution"


@dataclass
class StubEngine:
    """Records what the router hands over and fails as told."""

    fail: QueryError | None = None
    timeout: float | None = None
    seen: list[tuple[Any, ...]] = field(default_factory=list)

    def instant_query(self, q: Any, query: str, t: float) -> Any:
        self.seen.append((query, t, self.timeout))
        if self.fail:
            raise self.fail
        raise AssertionError("not reached")


@pytest.mark.parametrize(
    ("kind", "status"), [("timeout", 503), ("execution", 422), ("canceled", 499), ("internal", 500)]
)
async def test_engine_error_kinds_map_to_status(db: TSDB, kind: str, status: int) -> None:
    stub = StubEngine(fail=QueryError("boom", kind=kind))
    transport = httpx.ASGITransport(app=_app(db, stub, timeout=30))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/api/v1/query", params={"query": "up", "timeout": "5s"})
    assert r.status_code == status
    assert r.json() == {"status": "error", "errorType": kind, "error": "boom"}
    # The per-query timeout reaches the engine, and only ever lowers the cap.
    assert stub.seen == [("up", T, 5.0)]
    assert stub.timeout is None  # the shared engine was not mutated


class BrokenStore:
    """A store whose reads fail as a bug would."""

    def label_names(self, *args: Any) -> list[str]:
        raise RuntimeError("store is broken")

    def label_values(self, *args: Any) -> list[str]:
        raise RuntimeError("store is broken")

    def select(self, *args: Any) -> list[Any]:
        raise RuntimeError("store is broken")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/labels", {}),
        ("/api/v1/label/zone/values", {}),
        ("/api/v1/series", {"match[]": "up"}),
    ],
)
async def test_unexpected_failures_keep_prometheus_error_shape(
    path: str, params: dict[str, str]
) -> None:
    transport = httpx.ASGITransport(app=_app(lambda: BrokenStore(), Engine()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get(path, params=params)
    assert r.status_code == 500
    assert r.json() == {
        "status": "error",
        "errorType": "internal",
        "error": "internal error: store is broken",
    }


async def test_series_labels_and_values(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/v1/series", params=[("match[]", 'zone_up{venue="v1"}'), ("match[]", '{zone="z0"}')]
    )
    assert r.status_code == 200
    got = r.json()["data"]
    expected = [z for z in ZONES if z["venue"] == "v1" or z["zone"] == "z0"]
    assert sorted(got, key=lambda d: d["zone"]) == sorted(expected, key=lambda d: d["zone"])

    r = await client.get("/api/v1/labels")
    assert r.json()["data"] == ["__name__", "importance", "venue", "zone"]
    r = await client.post("/api/v1/labels", data={"match[]": 'zone_up{zone="z0"}'})
    assert r.json()["data"] == ["__name__", "importance", "venue", "zone"]

    r = await client.get("/api/v1/label/venue/values")
    assert r.json() == {"status": "success", "data": ["v0", "v1", "v2"]}
    r = await client.get(
        "/api/v1/label/zone/values", params={"match[]": 'zone_up{importance="high"}'}
    )
    assert r.json()["data"] == ["z0", "z1"]
    r = await client.get("/api/v1/label/zone/values", params={"limit": "2"})
    assert r.json() == {
        "status": "success",
        "data": ["z0", "z1"],
        "warnings": ["results truncated due to limit"],
    }


async def test_series_time_window(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/v1/series", params={"match[]": "zone_up", "start": str(T + 60), "end": str(T + 120)}
    )
    assert r.json()["data"] == []
    r = await client.get(
        "/api/v1/series", params={"match[]": "zone_up", "start": str(T - 100), "end": str(T)}
    )
    assert len(r.json()["data"]) == 9
    r = await client.get(
        "/api/v1/label/zone/values", params={"start": str(T + 60), "end": str(T + 120)}
    )
    assert r.json()["data"] == []


async def test_buildinfo_and_grafana_extras(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/status/buildinfo")
    data = r.json()["data"]
    assert r.status_code == 200
    assert data["version"]
    assert data["application"] == "tocsin"
    assert (await client.get("/api/v1/metadata")).json() == {"status": "success", "data": {}}
    assert (await client.get("/api/v1/query_exemplars")).json() == {"status": "success", "data": []}


async def test_query_range_form_post_and_rfc3339_offset(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/query_range",
        data={
            "query": "count(zone_up)",
            "start": "2023-11-14T23:11:40+01:00",  # T - 100s
            "end": "2023-11-14T22:13:20.000Z",  # T
            "step": "50",
        },
    )
    assert r.status_code == 200, r.text
    (series,) = r.json()["data"]["result"]
    assert series["values"] == [[T - 100, "9"], [T - 50, "9"], [T, "9"]]


async def test_openapi_document_builds_without_duplicate_operations(
    client: httpx.AsyncClient,
) -> None:
    # FastAPI warns (an error under this suite) when two operations share an id,
    # as a route registered for GET and POST at once does.
    spec = (await client.get("/openapi.json")).json()
    ops = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ops) == len(set(ops))
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/query"])
