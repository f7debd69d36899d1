from __future__ import annotations

import pytest

from tocsin.clock import FakeClock
from tocsin.sources.factory import build_source
from tocsin.sources.heartbeat import HeartbeatSource

from .helpers import ADAPTER


def source(clock: FakeClock) -> HeartbeatSource:
    cfg = ADAPTER.validate_python(
        {
            "type": "heartbeat",
            "name": "cron",
            "labels": {"kind": "cron"},
            "targets": [
                {"id": "backup", "period": 3600, "grace": 300, "labels": {"team": "ops"}},
                {"id": "etl", "period": 60, "grace": 0},
            ],
        }
    )
    s = build_source(cfg, clock)
    assert isinstance(s, HeartbeatSource)
    return s


# (seconds after start: ping backup? / sweep: expected up for backup)
CASES = [
    pytest.param([], 10_000, None, id="never-pinged-unknown"),
    pytest.param([0], 3600, True, id="on-time"),
    pytest.param([0], 3900, True, id="within-grace"),
    pytest.param([0], 3901, False, id="overdue"),
    pytest.param([0, 3800], 7000, True, id="second-ping-resets"),
    pytest.param([3800, 0], 7000, True, id="late-arriving-old-ping-ignored"),
]


@pytest.mark.parametrize(("pings", "at", "up"), CASES)
async def test_heartbeat_states(clock: FakeClock, pings: list[float], at: float, up: bool) -> None:
    s = source(clock)
    start = clock.now()
    for p in pings:
        s.ping("backup", start + p)
    clock.set(start + at)
    result = await s.sweep()
    by_id = {o.target_id: o for o in result.observations}
    assert result.ok
    assert result.requests == 0
    assert by_id["backup"].up is up
    assert by_id["etl"].up is None
    assert by_id["backup"].labels == {"kind": "cron", "team": "ops"}
    if up is False:
        assert "overdue by 1s" in (by_id["backup"].error or "")


async def test_failure_ping_is_down_until_next_success(clock: FakeClock) -> None:
    s = source(clock)
    s.ping("etl")
    await clock.advance(10)
    s.ping("etl", ok=False)
    [obs] = await s.recheck(["etl"])
    assert obs.up is False
    await clock.advance(10)
    s.ping("etl")
    [obs] = await s.recheck(["etl"])
    assert obs.up is True


async def test_unknown_heartbeat_target(clock: FakeClock) -> None:
    s = source(clock)
    assert s.ping("nope") is False
    assert s.ping("etl") is True
    assert not s.has_target("nope")
    [obs] = await s.recheck(["nope"])
    assert obs.up is None
    assert s.estimate_calls_per_hour() == 0
    assert not s.supports_recheck


async def test_snapshot_and_restore_survive_a_restart(clock: FakeClock) -> None:
    before = source(clock)
    before.ping("backup", clock.now() - 100)
    saved = before.snapshot()
    after = source(clock)
    after.restore({**saved, "gone": 1.0})
    [obs] = await after.recheck(["backup"])
    assert obs.up is True
    assert after.last_ping("backup") == clock.now() - 100
    assert after.last_ping("gone") is None


async def test_a_restored_failure_ping_still_counts(clock: FakeClock) -> None:
    before = source(clock)
    before.ping("backup", clock.now() - 100)
    before.ping("backup", clock.now() - 50, ok=False)
    after = source(clock)
    after.restore(before.snapshot(), {**before.failure_snapshot(), "gone": 1.0})
    [obs] = await after.recheck(["backup"])
    assert obs.up is False
    assert after.failure_snapshot() == {"backup": clock.now() - 50}
