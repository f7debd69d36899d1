"""Timed acceptance scenarios, written as data in this directory's *.yml.

Each scenario gives an Alertmanager config, steps at virtual times (push,
resolve, silence, restart, scripted delivery failures) and the exact list of
notifications expected, each with the window it must arrive in. Times are
seconds since the scenario started; the run is on a FakeClock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.alerting.acceptance.harness import Harness
from tocsin.alerting.extensions import AlertingExtensions
from tocsin.alerting.matchers import parse_matchers
from tocsin.alerting.model import Alert
from tocsin.clock import FakeClock

HERE = Path(__file__).parent


def _scenarios() -> list[Any]:
    out = []
    for path in sorted(HERE.glob("*.yml")):
        for sc in yaml.safe_load(path.read_text())["scenarios"]:
            out.append(pytest.param(sc, id=f"{path.stem}:{sc['name']}"))
    return out


async def _step(h: Harness, step: dict[str, Any], pushed: dict[str, Alert]) -> None:
    now = h.now
    for spec in step.get("push", []):
        labels = {"alertname": spec["name"], **spec.get("labels", {})}
        starts = spec.get("starts")
        ends = spec.get("ends")
        ends_in = spec.get("ends_in")
        alert = Alert(
            labels=labels,
            annotations=spec.get("annotations", {}),
            starts_at=None if starts is None else h.t0 + starts,
            ends_at=h.t0 + (ends if ends is not None else now + ends_in)
            if ends is not None or ends_in is not None
            else None,
        )
        pushed[spec["name"]] = alert
        await h.push(alert)
    for name in step.get("resolve", []):
        old = pushed[name]
        await h.push(Alert(labels=old.labels, starts_at=old.starts_at, ends_at=h.clock.now()))
    if "silence" in step:
        spec = step["silence"]
        matchers = [m for text in spec["matchers"] for m in parse_matchers(text)]
        h.dispatcher.silences.add(matchers, h.clock.now() + spec["duration"], created_by="test")
        h.dispatcher.save_silences()
    if "fail" in step:
        h.recorders[step["fail"]["receiver"]].failures = step["fail"]["times"]
    if step.get("restart"):
        await h.restart(downtime=step.get("downtime", 0.0))


@pytest.mark.parametrize("scenario", _scenarios())
async def test_scenario(scenario: dict[str, Any], clock: FakeClock, tmp_path: Path) -> None:
    ext = scenario.get("extensions")
    h = Harness(
        scenario["config"],
        clock,
        db_path=tmp_path / "state.db",
        extensions=AlertingExtensions.model_validate(ext) if ext else None,
        send_resolved=scenario.get("send_resolved", {}),
    )
    await h.start()
    pushed: dict[str, Alert] = {}
    try:
        for step in sorted(scenario["steps"], key=lambda s: s["at"]):
            await h.run_until(step["at"])
            await _step(h, step, pushed)
        await h.run_until(scenario["until"])
    finally:
        await h.stop()
    # Notifications at the same time come in no particular order: compare
    # sorted by receiver, time, then content.
    got = sorted(
        ((s.at, s.receiver, s.firing, s.resolved) for s in h.sent),
        key=lambda g: (g[1], g[0], g[2], g[3]),
    )
    want = sorted(
        scenario["expect"],
        key=lambda e: (
            e["receiver"],
            e["between"][0],
            sorted(e.get("firing", [])),
            sorted(e.get("resolved", [])),
        ),
    )
    assert len(got) == len(want), f"got {got}"
    for (at, receiver, firing, resolved), exp in zip(got, want, strict=True):
        lo, hi = exp["between"]
        assert receiver == exp["receiver"], got
        assert lo <= at <= hi, f"{receiver} at {at}, expected in [{lo}, {hi}]: {got}"
        assert firing == sorted(exp.get("firing", [])), got
        assert resolved == sorted(exp.get("resolved", [])), got
