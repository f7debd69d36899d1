"""Drive a Detector with compact result strings: "+" up, "-" failed, "?" no data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.clock import FakeClock
from tocsin.detect.config import DetectionConfig
from tocsin.detect.detector import Detector
from tocsin.detect.events import SweepOutcome
from tocsin.detect.types import TargetState
from tocsin.sources.types import Observation, SweepResult

INTERVAL = 60.0
RESULT = {"+": True, "-": False, "?": None}
LETTER = {
    TargetState.UNKNOWN: "u",
    TargetState.UP: "U",
    TargetState.DOWN: "D",
    TargetState.FLAPPING: "F",
    TargetState.EXPECTED_OFF: "O",
}


def config(**overrides: Any) -> DetectionConfig:
    """Defaults with flapping and mass-change off unless a test asks for them."""
    base: dict[str, Any] = {"flapping": {"enabled": False}, "mass_change": {"enabled": False}}
    base.update(overrides)
    return DetectionConfig.model_validate(base)


def sweep_of(
    clock: FakeClock,
    results: Mapping[str, bool | None],
    *,
    source: str = "fleet",
    labels: Mapping[str, Mapping[str, str]] | None = None,
    ok: bool = True,
) -> SweepResult:
    now = clock.now()
    obs = [
        Observation(tid, up, now, dict((labels or {}).get(tid, {"zone": tid})))
        for tid, up in results.items()
    ]
    return SweepResult(source, now, now, obs, ok=ok, error=None if ok else "HTTP 503")


def feed(
    detector: Detector,
    clock: FakeClock,
    results: str,
    *,
    target: str = "z1",
    labels: Mapping[str, str] | None = None,
    can_recheck: bool = False,
) -> tuple[str, list[SweepOutcome]]:
    """Feed one result per sweep to one target; return its state letters."""
    letters = []
    outcomes = []
    for ch in results:
        clock.set(clock.now() + INTERVAL)
        sweep = sweep_of(clock, {target: RESULT[ch]}, labels={target: labels or {"zone": target}})
        outcomes.append(detector.observe_sweep(sweep, can_recheck=can_recheck))
        status = detector.get(target)
        assert status is not None
        letters.append(LETTER[status.state])
    return "".join(letters), outcomes
