from __future__ import annotations

import zoneinfo

import pytest

from tocsin.sim import SimConfig
from tocsin.sim.engine import SimEngine
from tocsin.sim.fleet import REGIONS, ZONE_NAMES, Fleet


def test_same_seed_same_fleet_other_seed_differs() -> None:
    a, b, c = Fleet(50, 4, seed=7), Fleet(50, 4, seed=7), Fleet(50, 4, seed=8)
    assert a.venues == b.venues
    assert list(a.name_code) == list(b.name_code)
    assert list(a.latency_tenths) == list(b.latency_tenths)
    assert a.venues != c.venues


def test_ids_are_canonical_and_round_trip() -> None:
    fleet = Fleet(12, 3, seed=1)
    assert len(fleet) == 36
    assert fleet.zone_id(0) == "v00001-z1"
    assert fleet.zone_id(35) == "v00012-z3"
    assert fleet.venues[11].id == "v00012"
    for i in range(len(fleet)):
        assert fleet.zone_index(fleet.zone_id(i)) == i
    assert fleet.venue_zone_range(1) == range(3, 6)


@pytest.mark.parametrize(
    "bad", ["v00013-z1", "v00001-z4", "v00001-z0", "v1-z1", "v000001-z1", "x", "v00000-z1"]
)
def test_unknown_or_non_canonical_zone_ids_are_rejected(bad: str) -> None:
    assert Fleet(12, 3, seed=1).zone_index(bad) is None


@pytest.mark.parametrize("bad", ["v00013", "v00000", "v1", "venue"])
def test_unknown_venue_ids_are_rejected(bad: str) -> None:
    assert Fleet(12, 3, seed=1).venue_index(bad) is None


def test_venue_labels_are_consistent() -> None:
    fleet = Fleet(300, 5, seed=3)
    regions = {v.region for v in fleet.venues}
    assert regions == set(REGIONS)
    for venue in fleet.venues:
        assert venue.timezone in {tz for tz, _ in REGIONS[venue.region]}
        zoneinfo.ZoneInfo(venue.timezone)  # a real IANA name
        opens, closes = venue.opening_hours.split("-")
        assert len(opens) == len(closes) == 5


def test_zone_names_and_importance() -> None:
    fleet = Fleet(200, 8, seed=2)
    for v in range(len(fleet.venues)):
        names = [fleet.zone_name(i) for i in fleet.venue_zone_range(v)]
        assert names[0] == "Lobby"
        assert len(set(names)) == len(names)
    importance = {fleet.zone_name(i): fleet.zone_importance(i) for i in range(len(fleet))}
    assert importance["Lobby"] == "critical"
    assert importance["Office"] == "back-office"
    assert importance["Bar"] == "normal"
    assert set(importance) <= set(ZONE_NAMES)


@pytest.mark.parametrize(("venues", "zpv"), [(0, 5), (10, 0), (10, 17)])
def test_bad_fleet_sizes_are_refused(venues: int, zpv: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        Fleet(venues, zpv, seed=1)


@pytest.mark.parametrize(("share", "expected"), [(0.0, 0), (0.002, 2), (0.01, 10), (1e-9, 1)])
def test_initial_failing_share(share: float, expected: int) -> None:
    engine = SimEngine(SimConfig(venues=200, zones_per_venue=5, failing_share=share), 100.0)
    assert len(engine.initial_failing) == expected
    assert engine.world.offline_count() == expected
    assert all(r["start"] == 100.0 and r["end"] is None for r in engine.truth())


def test_hundred_thousand_zone_fleet_builds() -> None:
    engine = SimEngine(SimConfig(venues=20_000, zones_per_venue=5), 0.0)
    assert len(engine.fleet) == 100_000
    assert engine.fleet.zone_id(99_999) == "v20000-z5"
    assert engine.world.offline_count() == 200
