"""The README's Quickstart is the contract issue 2 states: two commands, run and test."""

from __future__ import annotations

import re
from pathlib import Path

from tocsin.cli.run_cmd import DEMO_CONFIG
from tocsin.config.loader import load_config

ROOT = Path(__file__).resolve().parent.parent


def _recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text()
    m = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert m, f"no {target} target in the Makefile"
    return [line.strip() for line in m.group(1).splitlines()]


def test_quickstart_is_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\w*\n(.*?)```", section, re.DOTALL)
    assert block, "Quickstart has no code block"
    run, test = [line for line in block.group(1).splitlines() if line.strip()]
    assert (run, test) == ("make run", "make test")
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci[-1] == test
    assert _recipe("run") == ["$(BIN)/tocsin run --demo"]


def test_demo_is_the_default_port_and_a_10000_zone_fleet_with_failures() -> None:
    config = load_config(DEMO_CONFIG).config
    assert config.server.listen == "127.0.0.1:9095"
    sim = config.simulator
    assert sim.enabled
    assert sim.listen == "127.0.0.1:9096"
    assert sim.fleet.venues * sim.fleet.zones_per_venue == 10_000
    assert sim.fleet.failing_share > 0
