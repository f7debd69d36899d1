"""Every example config under examples/ loads, so the examples never rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import REPO
from tocsin.alerting.config import load_alertmanager_config
from tocsin.cli.config_cmd import is_alertmanager_config
from tocsin.config.loader import load_config
from tocsin.rules.loader import load_rule_files

EXAMPLES = REPO / "examples"
CONFIGS = sorted(p for p in EXAMPLES.rglob("*.yml") if "rules" not in p.parts)


def test_there_are_examples() -> None:
    assert any(p.name == "tocsin.yml" for p in CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_config_loads(path: Path) -> None:
    if path.parent.name == "sim":
        from tocsin.sim.scenario import load_scenario

        assert load_scenario(path)
    elif is_alertmanager_config(path):
        assert load_alertmanager_config(path).receivers
    else:
        loaded = load_config(path)
        assert loaded.config.sources


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.rglob("rules/*.yml")), ids=lambda p: str(p.relative_to(EXAMPLES))
)
def test_example_rule_files_load(path: Path) -> None:
    assert load_rule_files([path])
