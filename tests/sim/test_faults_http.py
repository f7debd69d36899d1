"""Every fault kind over real HTTP, injected from a scenario and from the admin API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from tests.sim.conftest import Harness, StartSim
from tocsin.sim import FaultSpec

Probe = Callable[[Harness], Awaitable[object]]
PROBE_AT = (5.0, 12.0, 100.0)  # before, during and after a fault at 10 lasting 20 s
WINDOW = {"at": 10, "duration": 20}


def zone(zone_id: str) -> Probe:
    async def probe(h: Harness) -> object:
        return await h.zone_status(zone_id)

    return probe


async def offline_in_list(h: Harness) -> object:
    doc = await h.json("/v1/zones?page=1&page_size=500")
    return sum(1 for z in doc["zones"] if z["status"] == "offline")


async def venue_statuses(h: Harness) -> object:
    doc = await h.json("/v1/venues/v00002/zones")
    return sorted({z["status"] for z in doc["zones"]})


async def list_status(h: Harness) -> object:
    return (await h.get("/v1/zones")).status


async def list_parses(h: Harness) -> object:
    reply = await h.get("/v1/zones?page=1&page_size=20")
    assert reply.status == 200
    try:
        orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        assert "ETag" not in reply.headers
        return "broken"
    single = await h.get("/v1/zones/v00001-z1")  # only list pages are corrupted
    orjson.loads(single.body)
    return "json"


def held(path: str, kind: str, delay: float) -> Probe:
    """'held' if the request waits for `delay` seconds of clock time, else its status."""

    async def probe(h: Harness) -> object:
        hits = h.sim.stats()["fault_hits"].get(kind, 0)
        task = asyncio.create_task(h.get(path))
        for _ in range(400):  # bounded wait for the request to reach the server
            if task.done():
                return task.result().status
            if h.sim.stats()["fault_hits"].get(kind, 0) > hits:
                break
            await asyncio.sleep(0.005)
        await h.clock.advance(delay - 0.5)
        await asyncio.sleep(0.02)
        assert not task.done(), "answered before its delay"
        await h.clock.advance(0.5)
        reply = await asyncio.wait_for(task, 5)
        assert reply.status == 200
        return "held"

    return probe


CASES: list[tuple[str, list[dict[str, Any]], Probe, tuple[object, object, object]]] = [
    (
        "zone_outage",
        [{"kind": "zone_outage", "zones": ["v00001-z2"], **WINDOW}],
        zone("v00001-z2"),
        ("online", "offline", "online"),
    ),
    (
        "zone_outage_count",
        [{"kind": "zone_outage", "count": 3, **WINDOW}],
        offline_in_list,
        (0, 3, 0),
    ),
    (
        "venue_outage",
        [{"kind": "venue_outage", "venues": ["v00002"], **WINDOW}],
        venue_statuses,
        (["online"], ["offline"], ["online"]),
    ),
    (
        "flapping",
        [{"kind": "flapping", "zones": ["v00001-z3"], "period": 10, **WINDOW}],
        zone("v00001-z3"),
        ("online", "offline", "online"),
    ),
    (
        "api_5xx_burst",
        [{"kind": "api_5xx", "status": 502, **WINDOW}],
        list_status,
        (200, 502, 200),
    ),
    (
        "timeout",
        [{"kind": "timeout", "delay": 40, **WINDOW}],
        held("/v1/zones/v00001-z1", "timeout", 40),
        (200, "held", 200),
    ),
    (
        "slow",
        [{"kind": "slow", "delay": 3, **WINDOW}],
        held("/v1/venues/v00001/zones", "slow", 3),
        (200, "held", 200),
    ),
    (
        "malformed_json",
        [{"kind": "malformed_json", **WINDOW}],
        list_parses,
        ("json", "broken", "json"),
    ),
    (
        "truncated_json",
        [{"kind": "truncated_json", "rate": 1.0, **WINDOW}],
        list_parses,
        ("json", "broken", "json"),
    ),
    (
        "stale_data",
        [
            {"kind": "stale_data", **WINDOW},
            {"kind": "zone_outage", "at": 11, "zones": ["v00001-z1"]},
        ],
        zone("v00001-z1"),
        ("online", "online", "offline"),
    ),
]


@pytest.mark.parametrize("via", ["scenario", "admin"])
@pytest.mark.parametrize(("name", "faults", "probe", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_fault_kind(
    start_sim: StartSim,
    via: str,
    name: str,
    faults: list[dict[str, Any]],
    probe: Probe,
    expected: tuple[object, object, object],
) -> None:
    if via == "scenario":
        h = await start_sim(faults=[FaultSpec.model_validate(f) for f in faults])
    else:
        h = await start_sim()
        for fault in faults:
            reply = await h.post("/admin/faults", fault)
            assert reply.status == 201, reply.body
            assert reply.json()["id"]
    seen = []
    for t in PROBE_AT:
        await h.at(t)
        seen.append(await probe(h))
    assert tuple(seen) == expected


async def test_flapping_toggles_each_half_period_over_http(start_sim: StartSim) -> None:
    h = await start_sim()
    h.sim.add_fault(kind="flapping", zones=["v00003-z1"], period=8, at=0)
    seen = []
    for t in range(0, 24, 2):
        await h.at(t + 1)
        seen.append(await h.zone_status("v00003-z1"))
    assert seen == ["offline", "offline", "online", "online"] * 3


async def test_api_5xx_rate_hits_a_share_of_requests(start_sim: StartSim) -> None:
    h = await start_sim()
    h.sim.add_fault(kind="api_5xx", status=500, rate=0.5)
    statuses = [(await h.get("/v1/zones/v00001-z1")).status for _ in range(60)]
    assert set(statuses) == {200, 500}
    assert 15 <= statuses.count(500) <= 45
    assert h.sim.stats()["fault_hits"]["api_5xx"] == statuses.count(500)


async def test_truncated_body_is_a_prefix_of_the_real_one(start_sim: StartSim) -> None:
    h = await start_sim()
    good = await h.get("/v1/zones?page=1&page_size=30")
    fid = h.sim.add_fault(kind="truncated_json")
    cut = await h.get("/v1/zones?page=1&page_size=30")
    assert 0 < len(cut.body) < len(good.body)
    assert good.body.startswith(cut.body)
    h.sim.remove_fault(fid)
    assert (await h.get("/v1/zones?page=1&page_size=30")).body == good.body


async def test_stale_data_freezes_last_seen(start_sim: StartSim) -> None:
    h = await start_sim(heartbeat_interval=10)
    await h.at(5)
    h.sim.add_fault(kind="stale_data", duration=100)
    before = await h.json("/v1/zones?page=1&page_size=5")
    await h.at(50)
    during = await h.json("/v1/zones?page=1&page_size=5")
    assert during == before
    await h.at(110)
    after = await h.json("/v1/zones?page=1&page_size=5")
    assert after["zones"][0]["last_seen"] > before["zones"][0]["last_seen"]


async def test_admin_fault_lifecycle(start_sim: StartSim) -> None:
    h = await start_sim()
    await h.at(7)
    created = await h.post("/admin/faults", {"kind": "zone_outage", "zones": ["v00004-z4"]})
    assert created.status == 201
    fid = created.json()["id"]
    fault = created.json()["fault"]
    assert (fault["state"], fault["zones"], fault["start_offset"]) == ("active", ["v00004-z4"], 7)
    listed = (await h.json("/admin/faults"))["faults"]
    assert [f["id"] for f in listed] == [fid]
    await h.at(19)
    assert await h.zone_status("v00004-z4") == "offline"
    deleted = await h.delete(f"/admin/faults/{fid}")
    assert deleted.status == 200
    assert deleted.json()["state"] == "ended"
    assert await h.zone_status("v00004-z4") == "online"
    truth = await h.json("/admin/truth")
    t0 = truth["t0"]
    assert [(r["target"], r["start"] - t0, r["end"] - t0) for r in truth["records"]] == [
        ("v00004-z4", 7, 19)
    ]
    assert (await h.delete(f"/admin/faults/{fid}x")).status == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"kind": "zone_outage"}, "(body)", "exactly one of"),
        ({"kind": "earthquake"}, "kind", "Input should be"),
        ({"kind": "flapping", "zones": ["v00001-z1"], "period": -2}, "period", "greater than"),
        ({"kind": "slow", "status": 500}, "(body)", "does not apply"),
    ],
)
async def test_admin_rejects_invalid_faults(
    start_sim: StartSim, body: dict[str, Any], field: str, message: str
) -> None:
    h = await start_sim()
    reply = await h.post("/admin/faults", body)
    assert reply.status == 400
    problem = reply.json()["problems"][0]
    assert problem["field"] == field
    assert message in problem["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "zone_outage", "zones": ["v99999-z1"]}, "unknown zone id(s): v99999-z1"),
        ({"kind": "venue_outage", "venues": ["v00077"]}, "unknown venue id(s): v00077"),
    ],
)
async def test_admin_rejects_unknown_targets(
    start_sim: StartSim, body: dict[str, Any], message: str
) -> None:
    h = await start_sim()
    reply = await h.post("/admin/faults", body)
    assert reply.status == 400
    assert reply.json()["message"] == message
    assert (await h.json("/admin/faults"))["faults"] == []


async def test_admin_rejects_non_json(start_sim: StartSim) -> None:
    h = await start_sim()
    async with h.http.post(h.base + "/admin/faults", data=b"{nope") as r:
        assert r.status == 400
        assert "not JSON" in (await r.json())["message"]


async def test_admin_stats_count_requests(start_sim: StartSim) -> None:
    h = await start_sim(venues=4)
    await h.get("/v1/zones")
    await h.get("/v1/zones/v00001-z1")
    await h.get("/v1/zones/v00001-z1", {"If-None-Match": "*"})
    await h.get("/v1/venues/v00001/zones")
    stats = await h.json("/admin/stats")
    assert stats["requests"] == 4
    assert stats["by_endpoint"] == {"list": 1, "zone": 2, "venue": 1}
    assert stats["by_status"] == {"200": 3, "304": 1}
    assert stats["not_modified"] == 1
    assert (stats["zones"], stats["venues"]) == (20, 4)
