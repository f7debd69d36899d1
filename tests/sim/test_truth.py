"""The ground-truth JSONL file a scorer reads."""

from __future__ import annotations

from pathlib import Path

from tests.sim.conftest import StartSim
from tests.support import REPO
from tocsin.sim import FaultSpec, load_scenario, read_truth
from tocsin.sim.config import API_KINDS, OUTAGE_KINDS

EXAMPLE = REPO / "examples" / "sim" / "scenario.yml"


def rel(records: list[dict[str, object]], t0: float) -> list[tuple[object, ...]]:
    out = []
    for r in records:
        end = r["end"]
        assert isinstance(r["start"], float)
        out.append(
            (
                r["target"],
                r["kind"],
                r["fault"],
                r["start"] - t0,
                None if end is None else end - t0,  # type: ignore[operator]
            )
        )
    return out


async def test_truth_file_lines_as_outages_end_and_open_ones_on_stop(
    start_sim: StartSim, tmp_path: Path
) -> None:
    path = tmp_path / "out" / "truth.jsonl"
    scenario = [
        {"id": "z", "kind": "zone_outage", "at": 10, "duration": 20, "zones": ["v00001-z1"]},
        {"id": "v", "kind": "venue_outage", "at": 15, "duration": 5, "venues": ["v00002"]},
        {"id": "f", "kind": "flapping", "at": 0, "period": 20, "zones": ["v00003-z2"]},
        {"id": "b", "kind": "api_5xx", "at": 40, "duration": 5},
        {"id": "s", "kind": "stale_data", "at": 50},
    ]
    h = await start_sim(
        venues=3,
        zones_per_venue=2,
        faults=[FaultSpec.model_validate(f) for f in scenario],
        truth_path=path,
    )
    t0 = h.sim.engine.t0
    await h.at(35)
    # Written as they end, before shutdown: a scorer may tail the file.
    assert rel(read_truth(path), t0) == [
        ("v00003-z2", "flapping", "f", 0, 10),
        ("v00002-z1", "venue_outage", "v", 15, 20),
        ("v00002-z2", "venue_outage", "v", 15, 20),
        ("v00001-z1", "zone_outage", "z", 10, 30),
        ("v00003-z2", "flapping", "f", 20, 30),
    ]
    await h.at(60)
    await h.sim.stop()
    lines = read_truth(path)
    assert rel(lines[5:], t0) == [
        (None, "api_5xx", "b", 40, 45),
        ("v00003-z2", "flapping", "f", 40, 50),
        ("v00003-z2", "flapping", "f", 60, None),
        (None, "stale_data", "s", 50, None),
    ]
    assert all(set(r) == {"target", "kind", "start", "end", "venue", "fault"} for r in lines)
    assert lines[1]["venue"] == "v00002"
    assert h.sim.truth() == lines


async def test_initial_failing_zones_are_in_the_truth(start_sim: StartSim, tmp_path: Path) -> None:
    path = tmp_path / "truth.jsonl"
    h = await start_sim(venues=100, failing_share=0.01, truth_path=path)
    offline = h.sim.offline_zone_ids()
    assert len(offline) == 5
    served = await h.json("/v1/zones?page=1&page_size=500")
    assert sorted(z["id"] for z in served["zones"] if z["status"] == "offline") == offline
    await h.sim.stop()
    records = read_truth(path)
    assert sorted(str(r["target"]) for r in records) == offline
    assert all(r["kind"] == "zone_outage" and r["end"] is None for r in records)
    assert all(r["start"] == h.sim.engine.t0 for r in records)


async def test_example_scenario_runs_to_the_end(start_sim: StartSim, tmp_path: Path) -> None:
    path = tmp_path / "truth.jsonl"
    h = await start_sim(venues=100, faults=load_scenario(EXAMPLE), truth_path=path)
    await h.at(3000)
    await h.sim.stop()
    records = read_truth(path)
    kinds = {r["kind"] for r in records}
    assert kinds == OUTAGE_KINDS | API_KINDS
    for r in records:
        assert (r["target"] is None) == (r["kind"] in API_KINDS)
        assert r["end"] is not None  # every fault in the example has a duration
    flaps = [r for r in records if r["fault"] == "flaky-bar"]
    assert len(flaps) == 20  # 1200 s of a 60 s period
    assert all(r["end"] - r["start"] == 30 for r in flaps)  # type: ignore[operator]
    assert sum(r["fault"] == "venue-blackout" for r in records) == 5


async def test_memory_keeps_the_newest_records_and_the_file_keeps_all(
    start_sim: StartSim, tmp_path: Path
) -> None:
    path = tmp_path / "truth.jsonl"
    h = await start_sim(truth_path=path, truth_memory_limit=3)
    h.sim.add_fault(kind="flapping", zones=["v00001-z1"], period=2, duration=20)
    await h.at(30)
    doc = await h.json("/admin/truth")
    assert (doc["closed_total"], doc["closed_dropped"]) == (10, 7)
    assert [r["start"] - doc["t0"] for r in doc["records"]] == [14, 16, 18]
    await h.sim.stop()
    assert len(read_truth(path)) == 10
