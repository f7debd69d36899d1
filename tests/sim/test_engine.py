"""The simulator's timeline logic, without HTTP: events applied at their own times."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tocsin.sim import FaultError, FaultSpec, SimConfig
from tocsin.sim.engine import SimEngine
from tocsin.sim.render import PageCache

T0 = 1000.0


def engine(*faults: dict[str, Any], **config: Any) -> SimEngine:
    config.setdefault("venues", 10)
    config.setdefault("zones_per_venue", 5)
    config.setdefault("failing_share", 0.0)
    specs = [FaultSpec.model_validate(f) for f in faults]
    return SimEngine(SimConfig(faults=specs, **config), T0)


def outages(e: SimEngine) -> list[tuple[str | None, str, float, float | None]]:
    return sorted(
        (r["target"], r["kind"], r["start"] - T0, None if r["end"] is None else r["end"] - T0)
        for r in e.truth()
    )


def offline_at(e: SimEngine, t: float) -> set[str]:
    e.sync(T0 + t)
    return {e.fleet.zone_id(i) for i in e.world.opened_by}


@pytest.mark.parametrize(
    ("fault", "probe_times", "expected_offline"),
    [
        (
            {"kind": "zone_outage", "at": 10, "duration": 20, "zones": ["v00001-z1", "v00002-z2"]},
            [5, 10, 29.9, 30],
            [set(), {"v00001-z1", "v00002-z2"}, {"v00001-z1", "v00002-z2"}, set()],
        ),
        (
            {"kind": "venue_outage", "at": 0, "duration": 5, "venues": ["v00003"]},
            [0, 4, 5],
            [{f"v00003-z{k}" for k in range(1, 6)}, {f"v00003-z{k}" for k in range(1, 6)}, set()],
        ),
        (
            {"kind": "flapping", "at": 10, "period": 10, "duration": 27, "zones": ["v00001-z3"]},
            [9, 10, 14.9, 15, 20, 25, 30, 35, 36.9, 37],
            [set(), {"v00001-z3"}, {"v00001-z3"}, set(), {"v00001-z3"}, set(),
             {"v00001-z3"}, set(), set(), set()],
        ),
        (
            {"kind": "zone_outage", "at": 10, "zones": ["v00004-z4"]},
            [9, 10, 10_000],
            [set(), {"v00004-z4"}, {"v00004-z4"}],
        ),
    ],
)  # fmt: skip
def test_outage_timelines(
    fault: dict[str, Any], probe_times: list[float], expected_offline: list[set[str]]
) -> None:
    e = engine(fault)
    assert [offline_at(e, t) for t in probe_times] == expected_offline


def test_flapping_truth_has_one_record_per_down_half_even_with_a_late_sync() -> None:
    e = engine({"kind": "flapping", "at": 10, "period": 10, "duration": 27, "zones": ["v00001-z3"]})
    e.sync(T0 + 1000)  # one late sync still yields exact times
    assert outages(e) == [
        ("v00001-z3", "flapping", 10, 15),
        ("v00001-z3", "flapping", 20, 25),
        ("v00001-z3", "flapping", 30, 35),
    ]


def test_overlapping_causes_make_one_outage_attributed_to_the_first() -> None:
    e = engine(
        {"kind": "zone_outage", "at": 10, "duration": 20, "zones": ["v00002-z1"]},
        {"kind": "venue_outage", "at": 20, "duration": 20, "venues": ["v00002"]},
    )
    e.sync(T0 + 50)
    recs = [r for r in outages(e) if r[0] == "v00002-z1"]
    assert recs == [("v00002-z1", "zone_outage", 10, 40)]
    assert ("v00002-z2", "venue_outage", 20, 40) in outages(e)


def test_api_faults_are_recorded_without_target() -> None:
    e = engine(
        {"kind": "api_5xx", "at": 5, "duration": 10},
        {"kind": "stale_data", "at": 7},
    )
    e.sync(T0 + 30)
    assert outages(e) == [(None, "api_5xx", 5, 15), (None, "stale_data", 7, None)]


def test_initial_failing_zones_are_open_outages() -> None:
    e = engine(failing_share=0.01)
    recs = e.truth()
    assert len(recs) == 1
    assert recs[0]["kind"] == "zone_outage"
    assert recs[0]["fault"] == "initial"
    assert (recs[0]["start"], recs[0]["end"]) == (T0, None)


def test_remove_fault_ends_it_now_and_pending_ones_never_start() -> None:
    e = engine(
        {"id": "a", "kind": "zone_outage", "at": 10, "zones": ["v00001-z1"]},
        {"id": "b", "kind": "zone_outage", "at": 100, "zones": ["v00001-z2"]},
    )
    e.remove_fault("a", T0 + 25)
    e.remove_fault("b", T0 + 30)
    assert offline_at(e, 200) == set()
    assert outages(e) == [("v00001-z1", "zone_outage", 10, 25)]
    assert (e.faults["a"].state, e.faults["b"].state) == ("ended", "removed")
    with pytest.raises(KeyError):
        e.remove_fault("zzz", T0 + 30)


def test_count_picks_are_deterministic_and_distinct() -> None:
    spec = {"id": "x", "kind": "zone_outage", "at": 0, "count": 7}
    a, b = engine(spec), engine(spec)
    assert list(a.faults["x"].zones) == list(b.faults["x"].zones)
    assert len(set(a.faults["x"].zones)) == 7
    venues = engine({"id": "v", "kind": "venue_outage", "count": 2})
    assert len(venues.faults["v"].venues) == 2
    assert len(venues.faults["v"].zones) == 10


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "zone_outage", "zones": ["v00099-z1"]}, "unknown zone id"),
        ({"kind": "venue_outage", "venues": ["v00011"]}, "unknown venue id"),
        ({"kind": "zone_outage", "count": 51}, "exceeds the 50 zones"),
        ({"kind": "venue_outage", "count": 11}, "exceeds the 10 venues"),
    ],
)
def test_bad_targets_are_refused(fault: dict[str, Any], message: str) -> None:
    e = engine()
    with pytest.raises(FaultError, match=message):
        e.add_fault(FaultSpec.model_validate(fault))


def test_duplicate_fault_id_is_refused() -> None:
    e = engine({"id": "same", "kind": "stale_data"})
    with pytest.raises(FaultError, match="already exists"):
        e.add_fault(FaultSpec(kind="api_5xx", id="same"))


def test_admin_fault_without_at_starts_now_and_past_at_is_clamped() -> None:
    e = engine()
    e.sync(T0 + 50)
    now_fault = e.add_fault(FaultSpec(kind="api_5xx"))
    past_fault = e.add_fault(FaultSpec(kind="api_5xx", at=10))
    future_fault = e.add_fault(FaultSpec(kind="api_5xx", at=60))
    assert now_fault.start == past_fault.start == T0 + 50
    assert future_fault.start == T0 + 60


@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_api_fault_rate_is_a_share_of_requests(rate: float) -> None:
    e = engine({"kind": "api_5xx", "status": 502, "rate": rate})
    hits = [e.api_effects("zone").status for _ in range(1000)]
    share = sum(1 for s in hits if s == 502) / len(hits)
    assert abs(share - rate) < 0.05
    assert set(hits) <= {None, 502}


def test_corruption_only_hits_list_pages() -> None:
    e = engine({"kind": "truncated_json"})
    assert e.api_effects("list").corrupt == "truncated_json"
    assert e.api_effects("zone").corrupt is None
    assert e.api_effects("venue").corrupt is None


def test_stale_view_is_frozen_at_fault_start() -> None:
    e = engine(
        {"kind": "stale_data", "at": 10, "duration": 100},
        {"kind": "zone_outage", "at": 20, "zones": ["v00001-z1"]},
        heartbeat_interval=5,
    )
    e.sync(T0 + 30)
    frozen = e.api_effects("list").view
    assert frozen is not None
    assert frozen.offline[0] == 0
    assert e.view().offline[0] == 1
    assert frozen.slot_time == T0 + 10
    e.sync(T0 + 200)
    assert e.api_effects("list").view is None


def test_page_cache_is_bounded_in_bytes_and_views() -> None:
    cache = PageCache(max_bytes=100)
    cache.put(("live", 1), ("p", 1), b"x" * 60)
    cache.put(("live", 1), ("p", 2), b"y" * 30)
    assert cache.bytes == 90
    cache.put(("live", 1), ("p", 3), b"z" * 30)  # over budget: start afresh
    assert cache.bytes == 30
    assert cache.get(("live", 1), ("p", 1)) is None
    cache.put(("stale", "s"), ("p", 1), b"s" * 10)
    cache.put(("live", 2), ("p", 1), b"n" * 10)  # a third view evicts the oldest
    assert cache.get(("live", 1), ("p", 3)) is None
    assert cache.get(("stale", "s"), ("p", 1)) is not None
    assert cache.bytes == 20
    cache.put(("live", 2), ("p", 9), b"b" * 101)  # larger than the cache: not kept
    assert cache.bytes == 20


def test_automatic_ids_skip_ids_the_scenario_names() -> None:
    e = engine({"kind": "api_5xx"}, {"id": "f1", "kind": "slow"}, {"kind": "stale_data"})
    assert sorted(e.faults) == ["f1", "f2", "f3"]
    assert e.faults["f1"].spec.kind == "slow"


def test_bad_scenario_target_closes_the_truth_file(tmp_path: Path) -> None:
    path = tmp_path / "truth.jsonl"
    with pytest.raises(FaultError, match="unknown zone"):
        engine({"kind": "zone_outage", "zones": ["v00099-z1"]}, truth_path=path)
    assert path.read_bytes() == b""
