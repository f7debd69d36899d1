from __future__ import annotations

import pytest

from tests.support import REPO
from tocsin.errors import ConfigError
from tocsin.sim import load_scenario, parse_scenario
from tocsin.sim.config import API_KINDS, OUTAGE_KINDS

EXAMPLE = REPO / "examples" / "sim" / "scenario.yml"


def test_example_scenario_covers_every_fault_kind() -> None:
    specs = load_scenario(EXAMPLE)
    assert {s.kind for s in specs} == OUTAGE_KINDS | API_KINDS
    assert all(s.at is not None and s.at >= 0 for s in specs)


def test_bare_list_and_defaults() -> None:
    specs = parse_scenario("- kind: stale_data\n- kind: api_5xx\n  at: 5\n")
    assert [s.kind for s in specs] == ["stale_data", "api_5xx"]
    assert specs[0].at == 0.0
    assert specs[0].duration is None
    assert specs[1].effective_status() == 503
    assert specs[1].effective_rate() == 1.0


def test_empty_file_is_no_faults() -> None:
    assert parse_scenario("") == []
    assert parse_scenario("faults: []\n") == []


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("faults:\n  - kind: nope\n", 2, "faults[0].kind", "Input should be"),
        (
            "faults:\n  - kind: flapping\n    zones: [v00001-z1]\n    period: 0\n",
            4,
            "faults[0].period",
            "greater than 0",
        ),
        (
            "faults:\n  - kind: zone_outage\n    at: 1\n",
            2,
            "faults[0]",
            "exactly one of 'zones' or 'count'",
        ),
        (
            "faults:\n  - kind: api_5xx\n  - kind: slow\n    period: 3\n",
            3,
            "faults[1]",
            "'period' does not apply to kind 'slow'",
        ),
        ("faults:\n  - kind: api_5xx\n    rate: 1.5\n", 3, "faults[0].rate", "less than or equal"),
        ("faults:\n  - kind: api_5xx\n    zone: [a]\n", 3, "faults[0].zone", "Extra inputs"),
        ("fault:\n  - kind: api_5xx\n", 1, "fault", "unknown top-level key"),
        ("faults: 3\n", 1, "faults", "expected a list"),
        ("faults:\n  - 3\n", 2, "faults[0]", "expected a mapping"),
        ("faults: [\n", 2, "", "invalid YAML"),
        ("- kind: api_5xx\n  id: a\n- kind: slow\n  id: a\n", 4, "[1].id", "duplicate fault id"),
    ],
)
def test_scenario_errors_name_line_and_field(
    text: str, line: int | None, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_scenario(text, "s.yml")
    problem = info.value.problems[0]
    assert problem.file == "s.yml"
    assert problem.line == line
    assert problem.field == field
    assert message in problem.message


def test_missing_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario("/nonexistent/scenario.yml")
