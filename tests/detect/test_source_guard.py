"""Failed sweeps and mass changes hold target states and raise one source state."""

from __future__ import annotations

import pytest

from tocsin.clock import FakeClock
from tocsin.detect.detector import Detector
from tocsin.detect.events import SweepOutcome
from tocsin.detect.types import SourceState, TargetState

from .helpers import INTERVAL, config, sweep_of

N = 50


def fleet(up: bool | None, down: int = 0) -> dict[str, bool | None]:
    """N targets, the first `down` of them failing, the others `up`."""
    return {f"z{i:02d}": (False if i < down else up) for i in range(N)}


def run(
    d: Detector, clock: FakeClock, results: dict[str, bool | None], ok: bool = True
) -> SweepOutcome:
    clock.set(clock.now() + INTERVAL)
    return d.observe_sweep(sweep_of(clock, results, ok=ok))


def states(d: Detector) -> dict[str, TargetState]:
    return {s.target_id: s.state for s in d.statuses()}


def quick(clock: FakeClock, **mass: object) -> Detector:
    return Detector(
        config(
            mass_change={"enabled": True, **mass},
            confirm=[{"default": True, "down_after": {"failures": 1, "of": 1}, "up_after": 1}],
        ),
        clock,
    )


# (name, share of N failing at once, expect a mass change)
MASS_CASES = [
    ("below share: targets go down", 10, False),  # 20% is not more than 20%
    ("above share: held", 11, True),
    ("everything at once: held", N, True),
]


@pytest.mark.parametrize(
    ("failing", "held"), [c[1:] for c in MASS_CASES], ids=[c[0] for c in MASS_CASES]
)
def test_mass_change_threshold(clock: FakeClock, failing: int, held: bool) -> None:
    d = quick(clock)
    run(d, clock, fleet(True))
    before = states(d)
    out = run(d, clock, fleet(True, down=failing))
    assert out.held is held
    if held:
        assert states(d) == before
        assert out.changes == []
        assert out.source_event is not None
        assert out.source_event.new is SourceState.MASS_CHANGE
        assert out.source_event.held == failing
        assert f"{failing} of {N} targets" in out.source_event.reason
    else:
        assert out.source_event is None
        assert len(out.changes) == failing
        assert all(c.new is TargetState.DOWN for c in out.changes)


def test_mass_change_needs_min_targets(clock: FakeClock) -> None:
    d = quick(clock, min_targets=N + 1)
    run(d, clock, fleet(True))
    out = run(d, clock, fleet(False))
    assert not out.held
    assert len(out.changes) == N


def test_mass_change_clears_on_healthy_sweep_without_storm(clock: FakeClock) -> None:
    d = quick(clock)
    run(d, clock, fleet(True))
    first = run(d, clock, fleet(True, down=30))
    again = run(d, clock, fleet(True, down=30))
    assert first.source_event is not None
    assert again.source_event is None
    assert again.held
    back = run(d, clock, fleet(True))
    assert back.source_event is not None
    assert (back.source_event.old, back.source_event.new) == (
        SourceState.MASS_CHANGE,
        SourceState.OK,
    )
    assert back.changes == []
    assert set(states(d).values()) == {TargetState.UP}


def test_failed_sweep_holds_states_and_is_one_source_event(clock: FakeClock) -> None:
    d = Detector(config(), clock)
    run(d, clock, fleet(True))
    outs = [run(d, clock, fleet(False), ok=False) for _ in range(5)]
    assert set(states(d).values()) == {TargetState.UP}
    events = [o.source_event for o in outs if o.source_event]
    assert len(events) == 1
    assert events[0].new is SourceState.DEGRADED
    assert "HTTP 503" in events[0].reason
    assert d.source_states()[0].state is SourceState.DEGRADED
    back = run(d, clock, fleet(True))
    assert back.source_event is not None
    assert back.source_event.new is SourceState.OK
    assert d.decisions["source_degraded"] == 1
    assert d.decisions["source_recovered"] == 1


def test_failed_sweep_is_not_evidence(clock: FakeClock) -> None:
    """Failures reported in a failed sweep never count toward down."""
    d = Detector(config(), clock)
    run(d, clock, fleet(True))
    for _ in range(10):
        run(d, clock, fleet(False), ok=False)
    out = run(d, clock, fleet(True, down=1))
    assert out.changes == []  # one failure of 3 needed


def test_unknown_targets_going_down_are_not_a_mass_change(clock: FakeClock) -> None:
    """A fleet seen for the first time may have many down targets: not a flip."""
    d = quick(clock)
    out = run(d, clock, fleet(True, down=30))
    assert not out.held
    assert sum(c.new is TargetState.DOWN for c in out.changes) == 30


def test_a_lasting_mass_change_is_accepted_as_real(clock: FakeClock) -> None:
    d = quick(clock, accept_after=3 * INTERVAL)
    run(d, clock, fleet(True))
    held = [run(d, clock, fleet(True, down=30)) for _ in range(3)]  # 0, 60, 120 s
    assert all(o.held for o in held)
    assert set(states(d).values()) == {TargetState.UP}
    out = run(d, clock, fleet(True, down=30))  # 180 s of mass change
    assert not out.held
    assert out.source_event is not None
    assert out.source_event.new is SourceState.OK
    assert "30 of 50 targets (60.0%) still failing after 180s" in out.source_event.reason
    assert len(out.changes) == 30
    assert d.decisions["mass_change_accepted"] == 1
    # Accepted: the same outage is not held again while it lasts...
    assert not run(d, clock, fleet(True, down=30)).held
    run(d, clock, fleet(True))  # recovered
    # ...but a new one is.
    assert run(d, clock, fleet(True, down=30)).held


def test_a_sweep_below_the_share_restarts_the_acceptance_clock(clock: FakeClock) -> None:
    d = quick(clock, accept_after=2 * INTERVAL)
    run(d, clock, fleet(True))
    assert run(d, clock, fleet(True, down=30)).held
    assert run(d, clock, fleet(True, down=30)).held
    run(d, clock, fleet(True))
    assert run(d, clock, fleet(True, down=30)).held
    assert run(d, clock, fleet(True, down=30)).held
    assert not run(d, clock, fleet(True, down=30)).held


def test_without_accept_after_a_mass_change_is_held_for_as_long_as_it_lasts(
    clock: FakeClock,
) -> None:
    d = quick(clock)
    run(d, clock, fleet(True))
    assert all(run(d, clock, fleet(True, down=30)).held for _ in range(100))
    assert set(states(d).values()) == {TargetState.UP}
