"""One fixture per config error: each names the file, line and field.

Each fixture's first line says what is expected:
`# expect: <line> <field or -> :: <words the message contains>`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tocsin.alerting.config import load_alertmanager_config
from tocsin.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"
_EXPECT = re.compile(r"# expect: (\d+) (\S+) :: (.+)")


def _cases() -> list[Path]:
    return sorted(FIXTURES.glob("*.yml"))


def test_there_are_error_fixtures() -> None:
    assert len(_cases()) >= 20


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.stem)
def test_error_fixture(path: Path) -> None:
    m = _EXPECT.match(path.read_text().splitlines()[0])
    assert m, f"{path.name}: first line must be '# expect: LINE FIELD :: MESSAGE'"
    line, field, words = int(m.group(1)), m.group(2), m.group(3)
    field = "" if field == "-" else field
    with pytest.raises(ConfigError) as info:
        load_alertmanager_config(path)
    problems = info.value.problems
    hits = [p for p in problems if p.field == field and words in p.message]
    assert hits, f"expected {field!r} / {words!r}, got {problems}"
    assert hits[0].line == line
    assert hits[0].file == str(path)
    # The rendered error carries all three, for people reading a terminal.
    text = str(info.value)
    assert f"{path}:{line}:" in text
    assert words in text


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_alertmanager_config(tmp_path / "nope.yml")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.yml"
    path.write_text(
        "route:\n"
        "  receiver: a\n"
        "  routes:\n"
        "    - receiver: b\n"
        "    - receiver: c\n"
        "receivers:\n"
        "  - name: a\n"
    )
    with pytest.raises(ConfigError) as info:
        load_alertmanager_config(path)
    got = sorted((p.line, p.field) for p in info.value.problems)
    assert got == [(4, "route.routes[0].receiver"), (5, "route.routes[1].receiver")]
