from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tocsin.clock import FakeClock
from tocsin.sources.factory import build_source
from tocsin.sources.http_json import HttpJsonSource
from tocsin.sources.mapping import UNIDENTIFIED
from tocsin.sources.types import CircuitState

from .conftest import InstantClock, Serve
from .helpers import vendor_cfg
from .vendor import API_KEY, Vendor, zone


async def sweep_once(cfg: Any, clock: FakeClock) -> tuple[Any, HttpJsonSource]:
    source = build_source(cfg, clock)
    assert isinstance(source, HttpJsonSource)
    try:
        return await source.sweep(), source
    finally:
        await source.close()


def expected(n: int) -> dict[str, bool]:
    return {z["id"]: z["status"] == "online" for z in (zone(i) for i in range(n))}


PAGINATIONS = [
    pytest.param({"style": "page", "next_page": "next_page"}, 1200, 3, id="page-next_page"),
    pytest.param({"style": "page", "next_page": None, "total": "total"}, 1200, 3, id="page-total"),
    # No hint of the end: stop at the first short page; an exact multiple
    # costs one empty page more.
    pytest.param({"style": "page", "next_page": None}, 1200, 3, id="page-blind"),
    pytest.param({"style": "page", "next_page": None}, 1000, 3, id="page-blind-exact"),
    pytest.param(
        {"style": "cursor", "size_param": "limit", "next_cursor": "next_cursor"},
        1200,
        3,
        id="cursor",
    ),
    pytest.param({"style": "link"}, 1200, 3, id="link"),
    pytest.param({"style": "page", "page_size": 100}, 250, 3, id="page-small"),
]


@pytest.mark.parametrize(("pagination", "zones", "requests"), PAGINATIONS)
async def test_pagination_styles_cover_the_fleet(
    serve: Serve, clock: FakeClock, pagination: dict[str, Any], zones: int, requests: int
) -> None:
    vendor = Vendor(n=zones)
    base = await serve(vendor.app())
    result, _ = await sweep_once(vendor_cfg(base, pagination=pagination), clock)
    assert result.ok, result.error
    assert result.complete
    assert result.requests == requests == len(vendor.seen)
    assert {o.target_id: o.up for o in result.observations} == expected(zones)
    assert len(result.observations) == zones


async def test_mapping_fills_labels_latency_and_fields(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=10)
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, labels={"team": "ops", "zone": "static-wins"})
    result, _ = await sweep_once(cfg, clock)
    obs = {o.target_id: o for o in result.observations}
    z = zone(3)
    o = obs[z["id"]]
    assert o.up is True
    assert o.at == clock.now()
    assert o.latency == pytest.approx(z["latency_ms"] / 1000)
    assert o.fields == {"volume": float(z["volume"])}
    assert o.labels == {
        "team": "ops",
        "zone": "static-wins",
        "importance": z["importance"],
        "venue": z["venue"]["name"],
        "venue_id": z["venue"]["id"],
        "region": z["venue"]["region"],
    }
    assert obs[zone(0)["id"]].up is False  # zone 0 is offline in the fake


async def test_page_urls_use_template_vars_or_params(clock: FakeClock) -> None:
    templated = vendor_cfg(
        "http://h", url="http://h/z/{page}?n={page_size}&a=1", params={"token": "x"}
    )
    plain = vendor_cfg("http://h", params={"b": 2})
    cursor = vendor_cfg(
        "http://h",
        url="http://h/z",
        pagination={"style": "cursor", "size_param": "limit", "next_cursor": "next"},
    )
    t, p, c = (HttpJsonSource(cfg, clock) for cfg in (templated, plain, cursor))
    assert t.page_url(page=3) == "http://h/z/3?n=500&a=1&token=x"
    assert p.page_url(page=2) == "http://h/v1/zones?b=2&page_size=500&page=2"
    assert c.page_url() == "http://h/z?limit=500"
    assert c.page_url(cursor="a b/c") == "http://h/z?limit=500&cursor=a+b/c"


async def test_etag_pages_are_reused_on_304(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=1200)
    base = await serve(vendor.app())
    source = build_source(vendor_cfg(base), clock)
    try:
        first = await source.sweep()
        await clock.advance(60)
        vendor.zones[1] = {**vendor.zones[1], "status": "offline"}  # page 1 changes
        second = await source.sweep()
    finally:
        await source.close()
    assert first.ok
    assert second.ok, second.error
    assert vendor.not_modified == 2  # pages 2 and 3 unchanged
    ups = {o.target_id: o.up for o in second.observations}
    assert ups[zone(1)["id"]] is False
    assert len(ups) == 1200
    assert all(o.at == clock.now() for o in second.observations)  # reused, restamped


async def test_etag_cache_is_bounded(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=1200)
    base = await serve(vendor.app())
    source = build_source(vendor_cfg(base, etag_cache_size=1), clock)
    try:
        await source.sweep()
        await source.sweep()
    finally:
        await source.close()
    assert vendor.not_modified == 0  # only the last page was cached; page 1 was evicted


async def test_wrong_api_key_fails_without_retry(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=10)
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, headers={"X-API-Key": "wrong"}, backoff={"retries": 3})
    result, source = await sweep_once(cfg, clock)
    assert not result.ok
    assert not result.complete
    assert "HTTP 401" in (result.error or "")
    assert result.requests == 1  # 4xx is not retryable
    assert source.health().last_error == result.error


async def test_header_from_file(serve: Serve, clock: FakeClock, tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text(API_KEY + "\n")
    vendor = Vendor(n=10)
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, headers={}, headers_files={"X-API-Key": str(secret)})
    result, _ = await sweep_once(cfg, clock)
    assert result.ok, result.error


async def test_secret_header_never_leaks(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=10)
    base = await serve(vendor.app())
    cfg = vendor_cfg(base)
    source = build_source(cfg, clock)
    await source.sweep()
    await source.close()
    for text in (repr(cfg), str(cfg), cfg.model_dump_json(), repr(cfg.model_dump())):
        assert API_KEY not in text
    assert API_KEY not in repr(source.health())
    assert API_KEY not in repr(vars(source))


async def test_429_waits_for_retry_after(serve: Serve, instant_clock: InstantClock) -> None:
    vendor = Vendor(n=600, rate_limited=1, retry_after="7")
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, backoff={"retries": 2})
    result, _ = await sweep_once(cfg, instant_clock)
    assert result.ok, result.error
    assert instant_clock.slept == [7.0]
    assert result.requests == 3  # 429, then pages 1 and 2


async def test_429_longer_than_interval_fails_the_sweep(
    serve: Serve, instant_clock: InstantClock
) -> None:
    vendor = Vendor(n=600, rate_limited=1, retry_after="3600")
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, backoff={"retries": 2}, interval=60)
    result, _ = await sweep_once(cfg, instant_clock)
    assert not result.ok
    assert "429" in (result.error or "")
    assert instant_clock.slept == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("500", "HTTP 503"),
        ("malformed", "malformed JSON"),
        ("truncated", "malformed JSON"),
        ("html", "malformed JSON"),
        ("slow", "timed out"),
    ],
)
async def test_failed_page_fails_the_sweep(
    serve: Serve, clock: FakeClock, fault: str, message: str
) -> None:
    vendor = Vendor(n=1200, faults={2: fault})
    base = await serve(vendor.app())
    result, _ = await sweep_once(vendor_cfg(base, timeout=0.2), clock)
    assert not result.ok
    assert not result.complete
    assert message in (result.error or "")
    assert "page 2" in (result.error or "")
    # Page 1 came back before the failure and is passed on (detection holds).
    assert len(result.observations) == 500


async def test_retryable_page_failure_is_retried_with_backoff(
    serve: Serve, instant_clock: InstantClock
) -> None:
    vendor = Vendor(n=600, faults={2: "500"})
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, backoff={"retries": 2, "initial": 1, "jitter": 0})
    result, _ = await sweep_once(cfg, instant_clock)
    # Page 2 keeps failing: two retries after 1 s and 2 s, then give up.
    assert not result.ok
    assert instant_clock.slept == [1.0, 2.0]
    assert result.requests == 4


async def test_transient_page_failure_recovers_on_retry(
    serve: Serve, instant_clock: InstantClock
) -> None:
    vendor = Vendor(n=600, faults={2: "500-once"})
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, backoff={"retries": 2, "initial": 1, "jitter": 0})
    result, _ = await sweep_once(cfg, instant_clock)
    assert result.ok, result.error
    assert len(result.observations) == 600
    assert instant_clock.slept == [1.0]
    assert result.requests == 3


async def test_concurrent_pages_with_total_fail_as_a_whole(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=1500, faults={2: "500"})
    base = await serve(vendor.app())
    pagination = {"style": "page", "next_page": None, "total": "total", "page_size": 300}
    cfg = vendor_cfg(base, pagination=pagination, concurrency=1)
    result, _ = await sweep_once(cfg, clock)
    assert not result.ok
    assert "page 2" in (result.error or "")
    assert len(result.observations) == 300  # page 1; pages 3-5 were cancelled
    assert len(vendor.seen) < 5  # the failure stopped the burst


async def test_unmappable_items_are_unknown_not_down(serve: Serve, clock: FakeClock) -> None:
    zones = [zone(i) for i in range(4)]
    zones[1] = {**zones[1], "status": None}
    zones[2] = {**zones[2], "latency_ms": "fast"}
    zones[3] = {k: v for k, v in zones[3].items() if k != "id"}
    vendor = Vendor(zones=zones)
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, mapping={"up": "status"})  # raw status string: not a bool
    result, _ = await sweep_once(cfg, clock)
    assert result.ok
    by_id = {o.target_id: o for o in result.observations}
    assert set(by_id) == {zones[0]["id"], zones[1]["id"], zones[2]["id"], UNIDENTIFIED}
    for o in result.observations:
        assert o.up is None
        assert o.error
    assert "not true/false" in (by_id[zones[0]["id"]].error or "")
    assert "no usable id" in (by_id[UNIDENTIFIED].error or "")


async def test_bad_latency_is_unknown(serve: Serve, clock: FakeClock) -> None:
    zones = [zone(1), {**zone(2), "latency_ms": "fast"}]
    vendor = Vendor(zones=zones)
    base = await serve(vendor.app())
    result, _ = await sweep_once(vendor_cfg(base), clock)
    by_id = {o.target_id: o for o in result.observations}
    assert by_id[zones[0]["id"]].up is True
    assert by_id[zones[1]["id"]].up is None
    assert "latency_seconds is str" in (by_id[zones[1]["id"]].error or "")
    assert by_id[zones[1]["id"]].labels["venue_id"] == zones[1]["venue"]["id"]  # identity kept


@pytest.mark.parametrize(("items", "message"), [("page", "not a list"), ("zonez", "not found")])
async def test_items_missing_or_not_a_list_fails_the_sweep(
    serve: Serve, clock: FakeClock, items: str, message: str
) -> None:
    vendor = Vendor(n=5)
    base = await serve(vendor.app())
    result, _ = await sweep_once(vendor_cfg(base, items=items), clock)
    assert not result.ok
    assert message in (result.error or "")


async def test_max_pages_stops_runaway_pagination(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=1200)
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, pagination={"page_size": 100, "max_pages": 5})
    result, _ = await sweep_once(cfg, clock)
    assert not result.ok
    assert "max_pages=5" in (result.error or "")
    assert result.requests == 5


async def test_recheck_fetches_single_items(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=20)
    base = await serve(vendor.app())
    source = build_source(vendor_cfg(base, recheck_limit=2), clock)
    assert source.supports_recheck
    try:
        got = await source.recheck([zone(0)["id"], "v99999-z9", zone(1)["id"]])
    finally:
        await source.close()
    assert [(o.target_id, o.up) for o in got] == [
        (zone(0)["id"], False),
        ("v99999-z9", None),
        (zone(1)["id"], None),
    ]
    assert "HTTP 404" in (got[1].error or "")
    assert "recheck limit" in (got[2].error or "")
    assert got[0].labels["venue_id"] == zone(0)["venue"]["id"]
    assert vendor.seen == [f"/v1/zones/{zone(0)['id']}", "/v1/zones/v99999-z9"]


async def test_without_recheck_url_recheck_is_unknown(clock: FakeClock) -> None:
    source = build_source(vendor_cfg("http://127.0.0.1:9", recheck_url=None), clock)
    assert not source.supports_recheck
    got = await source.recheck(["a"])
    assert got[0].up is None


async def test_circuit_opens_then_half_opens(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=10, fail_all="500")
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, circuit_breaker={"failure_threshold": 2, "reset_timeout": 30})
    source = build_source(cfg, clock)
    try:
        r1, r2 = await source.sweep(), await source.sweep()
        assert source.health().circuit is CircuitState.OPEN
        r3 = await source.sweep()
        assert (r3.ok, r3.requests) == (False, 0)
        assert "circuit open" in (r3.error or "")
        await clock.advance(30)
        assert source.health().circuit is CircuitState.HALF_OPEN
        vendor.fail_all = None
        r4 = await source.sweep()
    finally:
        await source.close()
    assert not r1.ok
    assert not r2.ok
    assert r4.ok
    assert r4.requests == 1
    assert source.health().circuit is CircuitState.CLOSED
    assert source.health().healthy
    assert source.health().last_error is None  # the last sweep's, like Prometheus


async def test_budget_is_spent_and_reported(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=1200)
    base = await serve(vendor.app())
    source = build_source(vendor_cfg(base, budget_per_minute=10), clock)
    try:
        await source.sweep()
        health = source.health()
    finally:
        await source.close()
    assert health.requests_total == 3
    assert health.budget_per_minute == 10
    assert health.budget_available == pytest.approx(7)


async def test_budget_exhausted_fails_instead_of_overrunning(
    serve: Serve, instant_clock: InstantClock
) -> None:
    vendor = Vendor(n=1200)
    base = await serve(vendor.app())
    # 1 call/minute: page 2 would be due in 60 s; the interval allows 30 s.
    cfg = vendor_cfg(base, budget_per_minute=1, interval=30)
    result, _ = await sweep_once(cfg, instant_clock)
    assert not result.ok
    assert "budget exhausted" in (result.error or "")
    assert result.requests == 1


async def test_unknown_if_and_non_object_items_are_unknown(serve: Serve, clock: FakeClock) -> None:
    zones: list[Any] = [zone(1), {**zone(2), "status": "maintenance"}, {**zone(3)}, "junk"]
    del zones[2]["status"]
    vendor = Vendor(zones=zones)
    base = await serve(vendor.app())
    cfg = vendor_cfg(base, mapping={"unknown_if": "status != 'online' && status != 'offline'"})
    result, _ = await sweep_once(cfg, clock)
    got = [(o.target_id, o.up) for o in result.observations]
    assert got == [
        (zone(1)["id"], True),
        (zone(2)["id"], None),
        (zone(3)["id"], None),  # no status at all: unknown, not down
        (UNIDENTIFIED, None),
    ]
    assert "unknown_if" in (result.observations[1].error or "")


async def test_recheck_of_missing_item_is_unknown(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=5)
    base = await serve(vendor.app())
    source = build_source(vendor_cfg(base, recheck_item="zone"), clock)  # wrong path
    try:
        [obs] = await source.recheck([zone(1)["id"]])
    finally:
        await source.close()
    assert obs.up is None
    assert "not an object" in (obs.error or "")


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_response_is_refused(serve: Serve, clock: FakeClock, chunked: bool) -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        payload = b'{"zones": [' + b" " * 5000 + b"]}"
        if not chunked:
            return web.Response(body=payload, content_type="application/json")
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(payload), 1000):
            await resp.write(payload[i : i + 1000])
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/v1/zones", big)
    base = await serve(app)
    source = build_source(vendor_cfg(base, pagination={"style": "none"}), clock)
    assert isinstance(source, HttpJsonSource)
    try:
        fits = await source.sweep()
        source._http.max_body = 4096
        result = await source.sweep()
    finally:
        await source.close()
    assert fits.ok, fits.error
    assert fits.observations == []
    assert not result.ok
    assert "exceeds 4096" in (result.error or "")


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_concurrent_pages_respect_the_concurrency_limit(
    serve: Serve, clock: FakeClock, concurrency: int
) -> None:
    # The server holds requests until `concurrency` of them are waiting (so the
    # peak reaches the limit however slow the machine), then a moment longer
    # so that any request beyond the limit would show up too.
    vendor = Vendor(n=1000, gate=asyncio.Event(), gate_from_page=2)  # page 1 comes alone
    base = await serve(vendor.app())

    async def release() -> None:
        assert vendor.gate is not None
        while vendor.in_flight < concurrency:
            await vendor.arrived.wait()
            vendor.arrived.clear()
        await asyncio.sleep(0.05)
        vendor.gate.set()

    pagination = {"style": "page", "next_page": None, "total": "total", "page_size": 100}
    cfg = vendor_cfg(base, pagination=pagination, concurrency=concurrency)
    releaser = asyncio.ensure_future(release())
    result, _ = await sweep_once(cfg, clock)
    await releaser
    assert result.ok, result.error
    assert result.requests == 10
    assert len(result.observations) == 1000
    assert vendor.peak_in_flight == concurrency


SEEN = datetime(2026, 11, 23, 8, 0, tzinfo=UTC).timestamp()  # last_seen of the fake's zones


@pytest.mark.parametrize(
    ("age", "last_seen", "ok", "message"),
    [
        (100, "last_seen", True, None),
        (301, "last_seen", False, "data is stale: newest last_seen is 301s old"),
        (301, "venue.nothing", False, "no item has a usable last_seen"),
    ],
)
async def test_stale_vendor_data_fails_the_sweep(
    serve: Serve, clock: FakeClock, age: float, last_seen: str, ok: bool, message: str | None
) -> None:
    zones = [zone(i) for i in range(10)]
    zones[3] = {**zones[3], "last_seen": "garbage"}
    zones[4] = {**zones[4], "last_seen": SEEN - 1000}  # numbers are Unix seconds
    vendor = Vendor(zones=zones)
    base = await serve(vendor.app())
    clock.set(SEEN + age)
    cfg = vendor_cfg(base, mapping={"last_seen": last_seen, "stale_after": 300})
    result, _ = await sweep_once(cfg, clock)
    assert result.ok is ok
    assert len(result.observations) == 10
    if message:
        assert message in (result.error or "")


async def test_stale_data_is_seen_through_etag_reuse(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=600)
    base = await serve(vendor.app())
    clock.set(SEEN + 10)
    source = build_source(
        vendor_cfg(base, mapping={"last_seen": "last_seen", "stale_after": 300}), clock
    )
    try:
        first = await source.sweep()
        await clock.advance(600)  # the vendor's data does not move: every page 304
        second = await source.sweep()
    finally:
        await source.close()
    assert first.ok
    assert vendor.not_modified == 2
    assert not second.ok
    assert "stale" in (second.error or "")


async def test_a_cancelled_sweep_leaves_nothing_running(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=1000)
    base = await serve(vendor.app())
    pagination = {"style": "page", "next_page": None, "total": "total", "page_size": 100}
    source = build_source(vendor_cfg(base, pagination=pagination), clock)
    await source.sweep()
    vendor.gate = asyncio.Event()  # now every page request hangs until released
    task = asyncio.ensure_future(source.sweep())
    await vendor.arrived.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await source.close()
    vendor.gate.set()
    leftovers = [t for t in asyncio.all_tasks() if "_fetch_page" in repr(t.get_coro())]
    assert leftovers == []
