"""Rule file parsing and validation: every error names file, line and problem."""

from __future__ import annotations

import pytest

from tocsin.errors import ConfigError
from tocsin.rules.loader import load_rule_files, parse_rules


def _errors(text: str, **kw: bool) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_rules(text, "r.yml", **kw)
    return [str(p) for p in exc.value.problems]


CASES = [
    (
        "groups:\n- name: g\n  rules:\n  - record: a\n    alert: b\n    expr: up\n",
        "r.yml:4: group \"g\", rule 1, \"b\": only one of 'record' and 'alert' must be set",
    ),
    (
        "groups:\n- name: g\n  rules:\n  - expr: up\n",
        "r.yml:4: group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set",
    ),
    (
        "groups:\n- name: g\n  rules:\n  - record: a\n",
        'r.yml:4: group "g", rule 1, "a": field \'expr\' must be set in rule',
    ),
    (
        "groups:\n- name: g\n  rules:\n  - record: a\n    expr: 'sum('\n",
        'r.yml:5: group "g", rule 1, "a": could not parse expression: parse error:',
    ),
    (
        "groups:\n- name: g\n  rules:\n  - record: 'a-b'\n    expr: up\n",
        'r.yml:4: group "g", rule 1, "a-b": invalid recording rule name: a-b',
    ),
    (
        "groups:\n- name: g\n  rules:\n  - record: 'a{x=\"1\"}'\n    expr: up\n",
        "braces present in the recording rule name; should it be in expr?",
    ),
    (
        "groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n    for: 5m\n",
        'r.yml:4: group "g", rule 1, "a": invalid field \'for\' in recording rule',
    ),
    (
        "groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n    annotations: {x: y}\n",
        "invalid field 'annotations' in recording rule",
    ),
    (
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels: {0bad: x}\n",
        'r.yml:6: group "g", rule 1, "A": invalid label name: 0bad',
    ),
    (
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      s: '{{ .x'\n",
        'r.yml:7: group "g", rule 1, "A": label "s": template: __alert_A:1:',
    ),
    (
        "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n",
        'r.yml:4: groupname: "g" is repeated in the same file',
    ),
    ("groups:\n- rules: []\n", "r.yml:2: Groupname must not be empty"),
    (
        "groups:\n- name: g\n  interval: 5 minutes\n  rules: []\n",
        "r.yml:3: interval: not a valid duration string: '5 minutes'",
    ),
    (
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: soon\n",
        "r.yml:6: for: not a valid duration string: 'soon'",
    ),
    (
        "groups:\n- name: g\n  owner: me\n  rules: []\n",
        "r.yml:3: field owner not found in type rulefmt.RuleGroup",
    ),
    (
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    severity: page\n",
        "r.yml:6: field severity not found in type rulefmt.Rule",
    ),
    ("groups: {name: g}\n", "r.yml:1: groups must be a list, got a mapping"),
    ("groups:\n- name: g\n  rules: [\n", "r.yml:4: invalid YAML"),
    ("groups:\n- name: g\n  limit: -1\n  rules: []\n", "r.yml:3: limit must be a non-negative"),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_invalid_rule_files_are_rejected_with_location(text: str, message: str) -> None:
    errors = _errors(text)
    assert any(e.startswith(message) or message in e for e in errors), errors


def test_all_problems_are_reported_at_once() -> None:
    text = "groups:\n- name: g\n  rules:\n  - record: 'a-b'\n    expr: 'x +'\n  - expr: up\n"
    assert len(_errors(text)) == 3


def test_unknown_fields_can_be_ignored() -> None:
    text = "groups:\n- name: g\n  owner: me\n  rules:\n  - record: a\n    expr: up\n    x: 1\n"
    [g] = parse_rules(text, "r.yml", ignore_unknown_fields=True)
    assert [r.record for r in g.rules] == ["a"]


def test_a_valid_file_keeps_every_field() -> None:
    text = """
groups:
  - name: fleet
    interval: 30s
    query_offset: 1m
    limit: 10
    labels: {team: ops}
    rules:
      - record: venue:up:sum
        expr: sum by (venue) (up)
        labels: {kind: rollup}
      - alert: ZoneDown
        expr: 1
        for: 2m
        keep_firing_for: 5m
        labels: {severity: page}
        annotations: {summary: '{{ $labels.zone }} down'}
"""
    [g] = parse_rules(text, "f.yml")
    assert (g.name, g.file, g.interval, g.query_offset, g.limit) == ("fleet", "f.yml", 30, 60, 10)
    assert g.labels == {"team": "ops"}
    rec, alert = g.rules
    assert (rec.record, rec.expr, rec.labels) == (
        "venue:up:sum",
        "sum by (venue) (up)",
        {"kind": "rollup"},
    )
    assert (alert.alert, alert.expr, alert.for_, alert.keep_firing_for) == (
        "ZoneDown",
        "1",
        120,
        300,
    )
    assert alert.annotations == {"summary": "{{ $labels.zone }} down"}
    assert alert.line == 12


def test_missing_files_are_named() -> None:
    with pytest.raises(ConfigError, match=r"nope\.yml: cannot read rule file"):
        load_rule_files(["nope.yml"])


def test_string_fields_keep_the_yaml_text_as_written() -> None:
    text = (
        "groups:\n- name: 1.50\n  rules:\n  - alert: A\n    expr: 1e3\n"
        "    labels: {v: 1.0, w: 0x1F, b: yes}\n"
    )
    [g] = parse_rules(text, "r.yml")
    assert g.name == "1.50"
    assert g.rules[0].expr == "1e3"
    assert g.rules[0].labels == {"v": "1.0", "w": "0x1F", "b": "yes"}
