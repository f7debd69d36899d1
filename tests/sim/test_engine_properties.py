"""Properties of the ground truth: it matches what the API served, for any fault mix."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.sim import FaultSpec, SimConfig
from tocsin.sim.engine import SimEngine

T0 = 5000.0
ZONES = [f"v0000{v}-z{k}" for v in range(1, 4) for k in range(1, 3)]
VENUES = ["v00001", "v00002", "v00003"]

times = st.integers(min_value=0, max_value=200)
durations = st.one_of(st.none(), st.integers(min_value=1, max_value=150))
zone_faults = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["zone_outage", "flapping"]),
        "at": times,
        "duration": durations,
        "zones": st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
    }
)
venue_faults = st.fixed_dictionaries(
    {
        "kind": st.just("venue_outage"),
        "at": times,
        "duration": durations,
        "venues": st.lists(st.sampled_from(VENUES), min_size=1, max_size=2, unique=True),
    }
)


def spec(d: dict[str, Any], period: int) -> FaultSpec:
    d = {k: v for k, v in d.items() if v is not None}
    if d["kind"] == "flapping":
        d["period"] = period
    return FaultSpec.model_validate(d)


@settings(max_examples=100, deadline=None)
@given(
    faults=st.lists(st.one_of(zone_faults, venue_faults), max_size=6),
    period=st.integers(min_value=2, max_value=40),
    probes=st.lists(st.floats(min_value=0, max_value=400), min_size=1, max_size=30),
    failing=st.sampled_from([0.0, 0.2]),
)
def test_truth_intervals_match_served_status(
    faults: list[dict[str, Any]], period: int, probes: list[float], failing: float
) -> None:
    config = SimConfig(
        venues=3,
        zones_per_venue=2,
        failing_share=failing,
        faults=[spec(f, period) for f in faults],
    )
    engine = SimEngine(config, T0)
    observed: list[tuple[float, set[str]]] = []
    for t in sorted(T0 + p for p in probes):  # absolute times: no rounding between sides
        engine.sync(t)
        offline = {z for i, z in enumerate(ZONES) if engine.view().offline[i]}
        observed.append((t, offline))
    engine.sync(T0 + 1000)
    records = engine.truth()

    by_zone: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        assert r["target"] is not None  # only outages were injected
        end = float("inf") if r["end"] is None else r["end"]
        start = r["start"]
        assert start < end
        by_zone.setdefault(r["target"], []).append((start, end))
    for spans in by_zone.values():
        spans.sort()
        for (_, end_a), (start_b, _) in itertools.pairwise(spans):
            assert end_a <= start_b  # one zone's outages never overlap

    for t, offline in observed:
        expected = {z for z, spans in by_zone.items() if any(s <= t < e for s, e in spans)}
        assert offline == expected, t
