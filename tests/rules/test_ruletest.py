"""`tocsin test rules` features beyond the conformance files."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tocsin.rules import histograms
from tocsin.rules.ruletest import Options, format_float_e, go_duration, run_files

RULES = """
groups:
  - name: second
    rules:
      - record: doubled
        expr: base * 2
  - name: first
    rules:
      - record: base
        expr: src + 1
      - alert: High
        expr: src > 5
        for: 1m
        labels: {env: '{{ $externalLabels.env }}'}
        annotations:
          link: '{{ $externalURL }}/x'
          value: '{{ $value }}'
"""


def _run(tmp_path: Path, test: str, **kw: object) -> tuple[int, str]:
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "t.yml").write_text(test)
    out, err = io.StringIO(), io.StringIO()
    code = run_files([tmp_path / "t.yml"], Options(**kw), out, err)  # type: ignore[arg-type]
    return code, out.getvalue() + err.getvalue()


def test_group_eval_order_lets_a_group_read_another_groups_output(tmp_path: Path) -> None:
    body = """
rule_files: [rules.yml]
group_eval_order: [first, second]
tests:
  - input_series:
      - series: src
        values: 1 2 3
    promql_expr_test:
      - expr: doubled
        eval_time: 2m
        exp_samples:
          - labels: doubled
            value: 8
"""
    code, text = _run(tmp_path, body)
    assert code == 0, text
    # In file order, `second` runs first and reads `base` from one interval before.
    code, text = _run(tmp_path, body.replace("group_eval_order: [first, second]\n", ""))
    assert code == 1
    assert 'got: {__name__="doubled"} 6E+00' in text


def test_alerts_with_external_labels_url_and_value(tmp_path: Path) -> None:
    body = """
rule_files: [rules.yml]
tests:
  - interval: 30s
    external_labels: {env: prod}
    external_url: https://tocsin.example
    input_series:
      - series: 'src{zone="z1"}'
        values: 6+1x10
    alert_rule_test:
      - eval_time: 30s
        alertname: High
        exp_alerts: []
      - eval_time: 1m30s   # evaluated at 1m (every evaluation_interval)
        alertname: High
        exp_alerts:
          - exp_labels: {zone: z1, env: prod}
            exp_annotations: {link: https://tocsin.example/x, value: "8"}
"""
    code, text = _run(tmp_path, body)
    assert code == 0, text


def test_alert_mismatch_shows_expected_and_got(tmp_path: Path) -> None:
    body = """
rule_files: [rules.yml]
tests:
  - name: wrong annotation
    input_series:
      - series: src
        values: 9x3
    alert_rule_test:
      - eval_time: 2m
        alertname: High
        exp_alerts:
          - exp_labels: {env: ""}
            exp_annotations: {link: /x, value: "1"}
"""
    code, text = _run(tmp_path, body)
    assert code == 1
    assert "    name: wrong annotation,\n    alertname: High, time: 2m, \n" in text
    assert 'Annotations:{link="/x", value="1"}' in text
    assert 'Annotations:{link="/x", value="9"}' in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "tests:\n  - alert_rule_test:\n      - eval_time: 1m\n",
            "an item under alert_rule_test misses required attribute alertname at eval_time 1m",
        ),
        ("group_eval_order: [a, a]\ntests: []\n", "group name repeated in evaluation order: a"),
        ("tests:\n  - intervall: 1m\n", "field intervall not found in type testGroup"),
        ("tests:\n  - input_series: [{series: 'x{', values: '1'}]\n", "unterminated label set"),
        (
            "tests:\n  - promql_expr_test: [{expr: 'x', exp_samples: [{labels: 'x{'}]}]\n",
            'expr: "x", time: 0s, err: labels "x{": ',
        ),
        (
            "tests:\n  - start_timestamp: yesterday\n",
            "cannot parse 'yesterday' to a valid timestamp",
        ),
    ],
)
def test_malformed_tests_fail_with_a_message(tmp_path: Path, body: str, message: str) -> None:
    code, text = _run(tmp_path, body)
    assert code == 1
    assert message in text


def test_run_selects_groups_by_regex(tmp_path: Path) -> None:
    body = """
tests:
  - name: alpha
    promql_expr_test: [{expr: vector(1), exp_samples: [{value: 1}]}]
  - name: beta
    promql_expr_test: [{expr: vector(1), exp_samples: [{value: 2}]}]
"""
    assert _run(tmp_path, body, run=re.compile("alp"))[0] == 0
    assert _run(tmp_path, body, run=re.compile("alpha|beta"))[0] == 1


def test_missing_rule_file_is_a_warning(tmp_path: Path) -> None:
    code, text = _run(tmp_path, "rule_files: [nope-*.yml]\ntests: [{}]\n")
    assert code == 0
    assert "WARNING: no file match pattern" in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (59, "59s"),
        (60, "1m0s"),
        (3661.5, "1h1m1.5s"),
        (86400, "24h0m0s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1E+00"), (0.0, "0E+00"), (123.5, "1.235E+02"), (1e-7, "1E-07"), (float("inf"), "+Inf")],
)
def test_go_float_e(value: float, text: str) -> None:
    assert format_float_e(value) == text


def test_histogram_literals_expand_and_print_canonically() -> None:
    series = histograms.expand(
        ["{{sum:3 count:2 buckets:[2]}}+{{sum:1.3 count:1 buckets:[1]}}x2", "_"]
    )
    assert [h.test_expression() if h else None for h in series] == [
        "{{count:2 sum:3 buckets:[2]}}",
        "{{count:3 sum:4.3 buckets:[3]}}",
        "{{count:4 sum:5.6 buckets:[4]}}",
        None,
    ]
    h = histograms.parse_literal("{{schema:1 buckets:[0 5 0 1] offset:-3 n_buckets:[2]}}")
    assert h.test_expression() == "{{schema:1 offset:-2 buckets:[5 0 1] n_buckets:[2]}}"
    with pytest.raises(histograms.HistogramParseError):
        histograms.parse_literal("{{count:x}}")


def test_histogram_series_get_counter_reset_hints() -> None:
    store = histograms.HistogramStore()
    for t, count in enumerate([3, 5, 1]):
        store.append(
            {"__name__": "h"}, t * 1000, histograms.parse_literal(f"{{{{count:{count}}}}}")
        )
    hints = [
        store.answer("h", t * 1000, 300_000).samples[0][1].hint  # type: ignore[union-attr]
        for t in range(3)
    ]
    assert hints == ["unknown", "not_reset", "reset"]
    assert store.answer("sum(h)", 0, 300_000) is None


def test_input_is_loaded_lazily_up_to_the_last_evaluation(tmp_path: Path) -> None:
    """As promtool: `@` cannot reach input samples after the last evaluation time."""
    body = """
tests:
  - input_series:
      - series: x
        values: 1 2 3
    promql_expr_test:
      - expr: x @ 120
        eval_time: 1m
        exp_samples:
          - labels: x
            value: 2
"""
    code, text = _run(tmp_path, body)
    assert code == 0, text
