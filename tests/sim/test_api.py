"""The vendor API over real HTTP on 127.0.0.1, with a FakeClock."""

from __future__ import annotations

import re

import pytest

from tests.sim.conftest import StartSim
from tocsin.clock import FakeClock
from tocsin.sim import SimConfig
from tocsin.sim.server import start_simulator as server_start_simulator

ZONE_KEYS = {"id", "name", "importance", "venue", "status", "volume", "latency_ms", "last_seen"}
VENUE_KEYS = {"id", "name", "region", "timezone"}


def next_link(link: str | None) -> str | None:
    if link is None:
        return None
    m = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert m, link
    return m.group(1)


async def test_page_style_walk_follows_next_page_and_link(start_sim: StartSim) -> None:
    h = await start_sim(venues=10, zones_per_venue=5)
    seen: list[str] = []
    page, url = 1, "/v1/zones?page=1&page_size=7"
    while True:
        reply = await h.get(url)
        assert reply.status == 200
        doc = reply.json()
        assert (doc["page"], doc["page_size"], doc["total"]) == (page, 7, 50)
        seen += [z["id"] for z in doc["zones"]]
        link = next_link(reply.headers.get("Link"))
        if doc["next_page"] is None:
            assert link is None
            break
        assert doc["next_page"] == page + 1
        assert link is not None
        assert link.startswith(h.base)
        assert f"page={page + 1}" in link
        assert "page_size=7" in link
        page, url = page + 1, link
    assert page == 8
    assert seen == [f"v{v:05d}-z{k}" for v in range(1, 11) for k in range(1, 6)]


async def test_zone_item_shape(start_sim: StartSim) -> None:
    h = await start_sim(venues=3)
    zone = (await h.json("/v1/zones?page_size=1"))["zones"][0]
    assert set(zone) >= ZONE_KEYS
    assert set(zone["venue"]) >= VENUE_KEYS
    assert zone["id"] == "v00001-z1"
    assert (zone["name"], zone["importance"]) == ("Lobby", "critical")
    assert zone["status"] == "online"
    assert 0 <= zone["volume"] <= 100
    assert isinstance(zone["latency_ms"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", zone["last_seen"])


async def test_default_page_size_and_past_the_end(start_sim: StartSim) -> None:
    h = await start_sim(venues=30)
    doc = await h.json("/v1/zones")
    assert (len(doc["zones"]), doc["page_size"], doc["next_page"]) == (100, 100, 2)
    last = await h.get("/v1/zones?page=2&page_size=100")
    assert last.json()["next_page"] is None
    assert "Link" not in last.headers
    beyond = await h.json("/v1/zones?page=9&page_size=100")
    assert beyond["zones"] == []
    assert beyond["next_page"] is None


async def test_cursor_style_walk(start_sim: StartSim) -> None:
    h = await start_sim(venues=10, zones_per_venue=5)
    seen: list[str] = []
    url = "/v1/zones?limit=12"
    calls = 0
    while url:
        doc = await h.json(url)
        calls += 1
        assert set(doc) >= {"zones", "next_cursor"}
        seen += [z["id"] for z in doc["zones"]]
        url = f"/v1/zones?cursor={doc['next_cursor']}&limit=12" if doc["next_cursor"] else ""
    assert calls == 5
    assert seen == [f"v{v:05d}-z{k}" for v in range(1, 11) for k in range(1, 6)]


async def test_largest_page(start_sim: StartSim) -> None:
    h = await start_sim(venues=120, zones_per_venue=5)
    doc = await h.json("/v1/zones?page=1&page_size=500")
    assert len(doc["zones"]) == 500
    assert doc["next_page"] == 2
    assert len((await h.json("/v1/zones?limit=500"))["zones"]) == 500


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page_size=501", "page_size must be between 1 and 500"),
        ("page=0", "page must be between"),
        ("page=x", "page must be an integer"),
        ("limit=0", "limit must be between"),
        ("cursor=garbage&limit=5", "invalid cursor"),
        ("page=1&limit=5", "either page/page_size or cursor/limit"),
    ],
)
async def test_bad_list_parameters_are_400(start_sim: StartSim, query: str, message: str) -> None:
    h = await start_sim()
    reply = await h.get(f"/v1/zones?{query}")
    assert reply.status == 400
    assert reply.json()["error"] == "bad_request"
    assert message in reply.json()["message"]


async def test_per_venue_and_per_zone(start_sim: StartSim) -> None:
    h = await start_sim(venues=4, zones_per_venue=3)
    doc = await h.json("/v1/venues/v00002/zones")
    assert doc["venue"]["id"] == "v00002"
    assert [z["id"] for z in doc["zones"]] == ["v00002-z1", "v00002-z2", "v00002-z3"]
    assert all(z["venue"] == doc["venue"] for z in doc["zones"])
    zone = await h.json("/v1/zones/v00002-z3")
    assert zone == doc["zones"][2]
    assert (await h.json("/v1/venues/v00002")) == doc["venue"]


@pytest.mark.parametrize(
    "path", ["/v1/zones/v00009-z1", "/v1/zones/nope", "/v1/venues/v00009/zones", "/v1/venues/x"]
)
async def test_unknown_ids_are_404_json(start_sim: StartSim, path: str) -> None:
    h = await start_sim(venues=4)
    reply = await h.get(path)
    assert reply.status == 404
    assert reply.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "path", ["/v1/zones?page=2&page_size=10", "/v1/zones?limit=5", "/v1/zones/v00001-z2",
             "/v1/venues/v00001/zones", "/v1/venues/v00001"],
)  # fmt: skip
async def test_etag_and_if_none_match(start_sim: StartSim, path: str) -> None:
    h = await start_sim(venues=4)
    first = await h.get(path)
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]+"', etag)
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await h.get(path, {"If-None-Match": header})
        assert again.status == 304, header
        assert again.body == b""
        assert again.headers["ETag"] == etag
    other = await h.get(path, {"If-None-Match": '"not-it"'})
    assert other.status == 200
    assert other.body == first.body


async def test_etag_changes_when_status_or_heartbeat_changes(start_sim: StartSim) -> None:
    h = await start_sim(venues=4, heartbeat_interval=60)
    path = "/v1/zones?page=1&page_size=5"
    etag = (await h.get(path)).headers["ETag"]
    h.sim.add_fault(kind="zone_outage", zones=["v00001-z2"])
    changed = await h.get(path, {"If-None-Match": etag})
    assert changed.status == 200
    assert changed.json()["zones"][1]["status"] == "offline"
    etag2 = changed.headers["ETag"]
    assert etag2 != etag
    await h.clock.advance(60)  # a new heartbeat slot moves online zones' last_seen
    later = await h.get(path, {"If-None-Match": etag2})
    assert later.status == 200
    assert later.json()["zones"][0]["last_seen"] != changed.json()["zones"][0]["last_seen"]
    assert later.json()["zones"][1]["last_seen"] == changed.json()["zones"][1]["last_seen"]


async def test_page_cache_serves_repeat_requests(start_sim: StartSim) -> None:
    h = await start_sim(venues=4)
    a = await h.get("/v1/zones?page=1&page_size=10")
    b = await h.get("/v1/zones?page=1&page_size=10")
    assert a.body == b.body
    cache = h.sim.stats()["page_cache"]
    assert (cache["hits"], cache["misses"], cache["bytes"]) == (1, 1, len(a.body))


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-API-Key": "wrong"}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic s3cret"}, 401),
        ({"X-API-Key": "s3cret"}, 200),
        ({"Authorization": "Bearer s3cret"}, 200),
        ({"Authorization": "bearer s3cret"}, 200),
    ],
)
async def test_api_key_auth(start_sim: StartSim, headers: dict[str, str], status: int) -> None:
    h = await start_sim(api_key="s3cret")
    for path in ("/v1/zones", "/v1/zones/v00001-z1", "/v1/venues/v00001/zones"):
        reply = await h.get(path, headers)
        assert reply.status == status
        if status == 401:
            assert reply.json()["error"] == "unauthorized"
    assert (await h.get("/admin/stats")).status == 200


async def test_budget_answers_429_with_retry_after_until_refilled(start_sim: StartSim) -> None:
    h = await start_sim(budget_per_minute=3)
    replies = [await h.get("/v1/zones/v00001-z1") for _ in range(3)]
    assert [r.status for r in replies] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in replies] == ["2", "1", "0"]
    assert replies[0].headers["X-RateLimit-Limit"] == "3"
    over = await h.get("/v1/zones/v00001-z1")
    assert over.status == 429
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert over.headers["Retry-After"] == "20"  # 3/min: one token every 20 s
    assert over.json()["error"] == "rate_limited"
    await h.clock.advance(19)
    assert (await h.get("/v1/zones")).status == 429
    await h.clock.advance(1)
    assert (await h.get("/v1/zones")).status == 200
    assert (await h.get("/admin/truth")).status == 200  # admin calls are not budgeted
    stats = h.sim.stats()
    assert stats["rejected_budget"] == 2
    assert stats["by_status"] == {"200": 4, "429": 2}


async def test_start_simulator_is_importable_from_server_module(clock: FakeClock) -> None:
    sim = await server_start_simulator(SimConfig(venues=2), clock)
    try:
        assert sim.base_url is not None
        assert sim.base_url.startswith("http://127.0.0.1:")
        assert sim.zone_count == 10
    finally:
        await sim.stop()


async def test_latency_wanders_around_each_zones_base_per_heartbeat(start_sim: StartSim) -> None:
    h = await start_sim(venues=20, heartbeat_interval=60)
    fleet = h.sim.engine.fleet
    seen: dict[str, set[float]] = {}
    for slot in range(6):
        await h.at(slot * 60)
        doc = await h.json("/v1/zones?page=1&page_size=100")
        for i, z in enumerate(doc["zones"]):
            base = fleet.latency_tenths[i] / 10
            assert 0.8 * base - 0.1 <= z["latency_ms"] <= 1.2 * base
            seen.setdefault(z["id"], set()).add(z["latency_ms"])
        single = await h.json("/v1/zones/v00003-z2")
        assert single == doc["zones"][11]
    assert sum(len(values) > 1 for values in seen.values()) > 90


async def test_start_twice_or_after_stop_is_refused(start_sim: StartSim) -> None:
    h = await start_sim()
    with pytest.raises(RuntimeError, match="already started"):
        await h.sim.start()
    await h.sim.stop()
    await h.sim.stop()  # idempotent
    with pytest.raises(RuntimeError, match="was stopped"):
        await h.sim.start()
