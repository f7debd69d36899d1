"""An Alertmanager config embedded as a section of a bigger file (tocsin's `alerting:`)."""

from __future__ import annotations

import pytest

from tocsin.alerting.config import alertmanager_config_from_data, parse_alertmanager_config
from tocsin.config.yamlpos import load_yaml
from tocsin.errors import ConfigError

TEXT = """\
server:
  listen: 127.0.0.1:9095
alerting:
  route:
    receiver: team
    routes:
      - receiver: ghost
      - match_re:
          service:
        receiver: team
  receivers:
    - name: team
"""


def test_section_problems_carry_the_prefix_and_whole_file_lines() -> None:
    data, positions = load_yaml(TEXT, "tocsin.yml")
    with pytest.raises(ConfigError) as info:
        alertmanager_config_from_data(data["alerting"], positions, ("alerting",))
    [p] = info.value.problems
    assert (p.file, p.line, p.field) == (
        "tocsin.yml",
        9,
        "alerting.route.routes[1].match_re.service",
    )


def test_section_cross_reference_problems_too() -> None:
    data, positions = load_yaml(
        TEXT.replace("          service:\n", "          service: x\n"), "t.yml"
    )
    with pytest.raises(ConfigError) as info:
        alertmanager_config_from_data(data["alerting"], positions, ("alerting",))
    [p] = info.value.problems
    assert (p.line, p.field) == (7, "alerting.route.routes[0].receiver")
    assert "undefined receiver 'ghost'" in p.message


def test_section_that_is_not_a_mapping() -> None:
    data, positions = load_yaml("alerting: [1, 2]\n", "t.yml")
    with pytest.raises(ConfigError, match=r"t\.yml:1: alerting: an Alertmanager config must be"):
        alertmanager_config_from_data(data["alerting"], positions, ("alerting",))


def test_template_patterns_are_relative_to_the_file() -> None:
    cfg = parse_alertmanager_config(
        "templates: ['t/*.tmpl', '/abs/*.tmpl']\nroute: {receiver: a}\nreceivers: [{name: a}]\n",
        "/etc/am/alertmanager.yml",
    )
    assert cfg.template_patterns() == ["/etc/am/t/*.tmpl", "/abs/*.tmpl"]


def test_time_interval_set() -> None:
    cfg = parse_alertmanager_config(
        "route: {receiver: a}\nreceivers: [{name: a}]\n"
        "time_intervals: [{name: all-week, time_intervals: [{weekdays: ['sunday:saturday']}]}]\n"
    )
    assert cfg.time_interval_set().active("all-week", 1_700_000_000)
