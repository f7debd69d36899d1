from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from tocsin.config.yamlpos import load_yaml, problems_from_validation_error
from tocsin.errors import ConfigError

TEXT = """\
server:
  listen: 127.0.0.1:9095
items:
  - name: a
    size: 3
  - name: b
    size: big
"""


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int


class Root(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Item]


def test_positions_point_at_keys_and_list_items() -> None:
    data, pos = load_yaml(TEXT, "t.yml")
    assert data["items"][1]["size"] == "big"
    assert pos.locate(("server", "listen")) == ("t.yml", 2)
    assert pos.locate(("items", 1)) == ("t.yml", 6)
    assert pos.locate(("items", 1, "size")) == ("t.yml", 7)
    # Unknown paths fall back to the nearest known ancestor.
    assert pos.locate(("items", 1, "nope")) == ("t.yml", 6)


def test_validation_errors_name_file_line_and_field() -> None:
    data, pos = load_yaml(TEXT, "t.yml")
    with pytest.raises(ValidationError) as info:
        Root.model_validate(data)
    problems = problems_from_validation_error(info.value, pos, data)
    rendered = sorted(str(p) for p in problems)
    assert any(r.startswith("t.yml:1: server:") and "unknown field" in r for r in rendered)
    assert any(r.startswith("t.yml:7: items[1].size:") and "'big'" in r for r in rendered)


def test_invalid_yaml_names_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml("a: [1, 2\nb: 3\n", "bad.yml")
    assert info.value.problems[0].file == "bad.yml"
    assert info.value.problems[0].line is not None
    assert "invalid YAML" in str(info.value)


@pytest.mark.parametrize(
    ("env", "text", "expected"),
    [
        ({"TOK": "s3cret"}, "k: ${TOK}", "s3cret"),
        ({}, "k: ${TOK:-fallback}", "fallback"),
        ({"A": "x"}, "k: pre-${A}-post", "pre-x-post"),
    ],
)
def test_env_expansion(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], text: str, expected: str
) -> None:
    monkeypatch.delenv("TOK", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    data, _ = load_yaml(text, "e.yml", expand_env=True)
    assert data["k"] == expected


def test_missing_env_var_is_an_error_with_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    with pytest.raises(ConfigError) as info:
        load_yaml("a: 1\nsecret: ${NOPE_NOT_SET}\n", "e.yml", expand_env=True)
    assert str(info.value.problems[0]).startswith("e.yml:2: secret:")
    assert "NOPE_NOT_SET" in str(info.value)


def test_yaml_11_booleans_stay_strings() -> None:
    data, _ = load_yaml("a: on\nb: true\n", "b.yml")
    assert data == {"a": "on", "b": True}
