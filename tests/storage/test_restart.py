"""A restart restores detection state from the store without re-alerting."""

from __future__ import annotations

from tocsin.clock import FakeClock
from tocsin.detect.config import DetectionConfig
from tocsin.detect.detector import Detector
from tocsin.sources.types import Observation, SweepResult

from .conftest import Backend, core_components

CONFIG = DetectionConfig.model_validate(
    {
        "confirm": [
            {"match": {"importance": "critical"}, "down_after": {"failures": 2, "of": 3}},
            {"default": True},
        ],
        "mass_change": {"min_targets": 1000},
        "schedules": [
            {
                "match": {"importance": "back-office"},
                "timezone": "UTC",
                "hours": {"mon": "00:00-00:01"},
            }
        ],
    }
)

# Per sweep, per target: "+" up, "-" failed, "?" no data.
PATTERNS = {
    "z-up": "++++++++",
    "z-down": "++------",
    "z-crit": "+++--+--",
    "z-flap": "+-+-+-+-",
    "z-off": "++------",
    "z-new": "????????",
    "z-back": "+---++++",
}
IMPORTANCE = {"z-crit": "critical", "z-off": "back-office"}


def sweep(clock: FakeClock, i: int, source: str = "fleet") -> SweepResult:
    clock.set(clock.now() + 60)
    obs = [
        Observation(
            tid,
            {"+": True, "-": False, "?": None}[p[i % len(p)]],
            clock.now(),
            {"zone": tid, "importance": IMPORTANCE.get(tid, "normal")},
            latency=0.01 * (i + 1),
            fields={"volume": float(i)},
        )
        for tid, p in PATTERNS.items()
    ]
    return SweepResult(source, clock.now(), clock.now(), obs)


def test_restart_round_trip_is_silent(backend: Backend, clock: FakeClock) -> None:
    before = Detector(CONFIG, clock)
    for i in range(8):
        before.observe_sweep(sweep(clock, i))
    clock.set(clock.now() + 60)
    before.observe_sweep(SweepResult("api", clock.now(), clock.now(), [], ok=False, error="503"))
    states = {s.state.value for s in before.statuses()}
    assert states == {"up", "down", "flapping", "expected_off", "unknown"}

    store = backend.open()
    store.migrate(core_components())
    snap = before.export()
    store.save_target_states(snap.targets)
    store.save_source_states(snap.sources)
    store.close()

    reopened = backend.open()
    after = Detector(CONFIG, clock)
    after.restore(reopened.load_target_states(), reopened.load_source_states())

    def view(d: Detector) -> dict[str, tuple[object, ...]]:
        return {
            s.target_id: (
                s.source,
                s.state,
                s.since,
                s.reason,
                s.labels,
                s.last_observed,
                s.latency,
                dict(s.fields),
                s.detail,
            )
            for s in d.statuses()
        }

    assert view(after) == view(before)
    assert [(s.source, s.state, s.since, s.reason) for s in after.source_states()] == [
        (s.source, s.state, s.since, s.reason) for s in before.source_states()
    ]

    # The next sweeps decide exactly as the old detector would have: no
    # state change is replayed because of the restart.
    for i in range(8, 20):
        a = before.observe_sweep(sweep(clock, i))
        clock.set(clock.now() - 60)
        b = after.observe_sweep(sweep(clock, i))
        assert [(c.target_id, c.old, c.new, c.reason) for c in b.changes] == [
            (c.target_id, c.old, c.new, c.reason) for c in a.changes
        ]


def test_restored_targets_do_not_re_alert(backend: Backend, clock: FakeClock) -> None:
    before = Detector(CONFIG, clock)
    for i in range(8):
        before.observe_sweep(sweep(clock, i))
    store = backend.open()
    store.migrate(core_components())
    store.save_target_states(before.export().targets)
    after = Detector(CONFIG, clock)
    after.restore(store.load_target_states())
    # Every target reports what it reported last: nothing is news.
    replay = sweep(clock, 7)
    assert after.observe_sweep(replay).changes == []
    assert {s.state.value for s in after.statuses()} >= {"down", "flapping", "expected_off"}
    assert [(s.target_id, s.state) for s in after.statuses()] == [
        (s.target_id, s.state) for s in before.statuses()
    ]
