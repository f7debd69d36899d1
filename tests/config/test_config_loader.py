"""tocsin's own config: every error names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.config.loader import load_config
from tocsin.errors import ConfigError

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"

# fixture -> (line, field, words the message must contain)
BAD = {
    "unknown-top-level.yml": (3, "sourcez", "unknown field"),
    "bad-interval.yml": (4, "sources[0].interval", "greater than 0"),
    "duplicate-source.yml": (6, "sources[1].name", "duplicate source name 'checks'"),
    "unknown-source-type.yml": (3, "sources[0].type", "carrier_pigeon"),
    "bad-listen.yml": (2, "server.listen", "host:port"),
    "missing-env.yml": (6, "sources[0].headers.X-API-Key", "TOCSIN_TEST_UNSET_KEY"),
    "bad-detection.yml": (2, "detection.flapping", "low"),
    "missing-include.yml": (2, "include[0]", "no file matches"),
    "bad-mapping-field.yml": (9, "sources[0].mapping.upp", "unknown field"),
    "unknown-extension-receiver.yml": (
        7,
        "alerting_extensions.receivers.venue-itt",
        "no receiver named 'venue-itt'",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_config_names_file_line_field(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOCSIN_TEST_UNSET_KEY", raising=False)
    line, field, words = BAD[name]
    with pytest.raises(ConfigError) as info:
        load_config(FIXTURES / name)
    rendered = [str(p) for p in info.value.problems]
    expected_prefix = f"{FIXTURES / name}:{line}: {field}:"
    matching = [r for r in rendered if r.startswith(expected_prefix)]
    assert matching, f"no problem at {expected_prefix!r} in {rendered}"
    assert any(words in r for r in matching), rendered


def test_every_fixture_is_covered() -> None:
    assert {p.name for p in FIXTURES.glob("*.yml")} == set(BAD)


def test_includes_merge_lists_and_keep_positions() -> None:
    loaded = load_config(HERE / "includes" / "main.yml")
    assert loaded.config.server.port == 9195
    assert [s.name for s in loaded.config.sources] == ["db", "web"]
    where = loaded.positions.locate(("sources", 1, "name"))
    assert where == (str(HERE / "includes" / "conf.d" / "web.yml"), 2)
    assert len(loaded.files) == 2


def test_secret_headers_never_show_in_dumps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_TEST_KEY", "hunter2-very-secret")
    cfg = tmp_path / "t.yml"
    cfg.write_text(
        (FIXTURES / "missing-env.yml")
        .read_text()
        .replace("TOCSIN_TEST_UNSET_KEY", "TOCSIN_TEST_KEY")
    )
    loaded = load_config(cfg)
    assert "hunter2" not in repr(loaded.config)
    assert "hunter2" not in str(loaded.config.redacted())
    header = loaded.config.sources[0].headers["X-API-Key"]  # type: ignore[union-attr]
    assert header.get_secret_value() == "hunter2-very-secret"


def test_demo_config_loads() -> None:
    from tocsin.cli.run_cmd import DEMO_CONFIG

    loaded = load_config(DEMO_CONFIG)
    assert loaded.config.simulator.enabled
    assert loaded.config.sources[0].name == "fleet"
