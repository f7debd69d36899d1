"""The `detection:` section: defaults, and a clear error for each mistake."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tocsin.detect.config import DetectionConfig


def test_defaults() -> None:
    cfg = DetectionConfig()
    rule = cfg.confirm[0]
    assert (rule.default, rule.down_after.failures, rule.down_after.of, rule.up_after) == (
        True,
        3,
        5,
        2,
    )
    assert cfg.recheck is True
    assert (cfg.flapping.window, cfg.flapping.high, cfg.flapping.low) == (21, 30, 20)
    assert (cfg.mass_change.max_share, cfg.mass_change.min_targets) == (0.2, 20)
    assert cfg.schedules == []
    assert cfg.unknown_after is None
    assert cfg.history_bits() == 21


def test_documented_example_parses() -> None:
    cfg = DetectionConfig.model_validate(
        {
            "confirm": [
                {
                    "match": {"importance": "critical"},
                    "down_after": {"failures": 2, "of": 3},
                    "up_after": 2,
                },
                {"default": True, "down_after": {"failures": 3, "of": 5}, "up_after": 3},
            ],
            "recheck": True,
            "flapping": {"window": 21, "high": 30, "low": 20},
            "mass_change": {"max_share": 0.2, "min_targets": 20},
            "schedules": [
                {
                    "match": {},
                    "timezone_label": "timezone",
                    "hours": {"mon-fri": "08:00-23:00", "sat-sun": "10:00-23:00"},
                }
            ],
        }
    )
    assert cfg.schedules[0].weekly.text == "mon-fri 08:00-23:00, sat-sun 10:00-23:00"


# (config, field path in the error, words in the message)
ERRORS = [
    ({"confrim": []}, "confrim", "Extra inputs are not permitted"),
    (
        {"confirm": [{"down_after": {"failures": 4, "of": 3}}]},
        "confirm.0.down_after",
        "cannot exceed",
    ),
    (
        {"confirm": [{"down_after": {"failures": 0, "of": 3}}]},
        "confirm.0.down_after.failures",
        "greater than or equal to 1",
    ),
    (
        {"confirm": [{"down_after": {"failures": 1, "of": 65}}]},
        "confirm.0.down_after.of",
        "less than or equal to 64",
    ),
    ({"confirm": [{"up_after": 0}]}, "confirm.0.up_after", "greater than or equal to 1"),
    ({"confirm": [{"default": True}, {"default": True}]}, "confirm", "at most one"),
    ({"confirm": [{"default": True, "match": {"a": "b"}}]}, "confirm.0", "cannot also have"),
    ({"confirm": [{"match": {"a": 1}}]}, "confirm.0.match.a", "valid string"),
    ({"flapping": {"high": 20, "low": 30}}, "flapping", "must be below high"),
    ({"flapping": {"window": 2}}, "flapping.window", "greater than or equal to 3"),
    ({"mass_change": {"max_share": 0}}, "mass_change.max_share", "greater than 0"),
    ({"mass_change": {"max_share": 1.5}}, "mass_change.max_share", "less than or equal to 1"),
    ({"schedules": [{"hours": {"mon": "9-5"}}]}, "schedules.0.hours", "bad time"),
    (
        {"schedules": [{"hours": {}, "timezone": "Mars/Base"}]},
        "schedules.0.timezone",
        "unknown time zone",
    ),
    (
        {"schedules": [{"hours": {}, "timezone": "UTC", "timezone_label": "tz"}]},
        "schedules.0",
        "either `timezone` or `timezone_label`",
    ),
    ({"schedules": [{"match": {}}]}, "schedules.0.hours", "Field required"),
    ({"unknown_after": -1}, "unknown_after", "greater than 0"),
]


@pytest.mark.parametrize(
    ("data", "where", "message"), ERRORS, ids=[e[1] + ":" + e[2] for e in ERRORS]
)
def test_errors_name_the_field(data: dict, where: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        DetectionConfig.model_validate(data)
    errors = info.value.errors()
    assert len(errors) == 1
    assert ".".join(str(p) for p in errors[0]["loc"]) == where
    assert message in errors[0]["msg"]


def test_history_bits_cover_the_longest_rule() -> None:
    cfg = DetectionConfig.model_validate(
        {"confirm": [{"down_after": {"failures": 10, "of": 40}, "up_after": 50}]}
    )
    assert cfg.history_bits() == 50


def test_example_in_the_docs_is_valid() -> None:
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).parents[2] / "docs" / "detection.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    cfg = DetectionConfig.model_validate(yaml.safe_load(block.group(1))["detection"])
    assert [r.default for r in cfg.confirm] == [False, True]
    assert cfg.schedules[1].timezone == "Europe/Stockholm"
