"""Prometheus's promtool test data: `test rules` and `check rules` outcomes.

Expected exit codes are those listed in ../shared/conformance/README.md.
"""

from __future__ import annotations

import io
import re

import pytest
from typer.testing import CliRunner

from tests.support import conformance_dir
from tocsin.cli.main import app
from tocsin.rules.check import check_files
from tocsin.rules.ruletest import Options, run_files

CASES = [
    ("unittest.yml", [], 0),
    ("long-period.yml", [], 0),
    ("no-test-group-interval.yml", [], 0),
    ("start-time-test.yml", [], 0),
    ("at-modifier-test.yml", [], 0),
    ("negative-offset-test.yml", [], 0),
    ("bad-input-series.yml", [], 1),
    ("bad-promql.yml", [], 1),
    ("bad-rules-syntax-test.yml", [], 1),
    ("bad-rules-error-test.yml", [], 1),
    ("failing.yml", [], 1),
    ("rules_run.yml", [], 1),
    ("rules_run.yml", ["--run", "correct"], 0),
    ("rules_run.yml", ["--run", "wrong"], 1),
    ("rules_run_extrafields.yml", ["--ignore-unknown-fields"], 0),
    ("rules_run_extrafields.yml", [], 1),
    ("rules_run_no_fuzzy.yml", [], 1),
    ("rules_run_fuzzy.yml", ["--run", "correct"], 0),
    ("rules_run_fuzzy.yml", ["--run", "wrong"], 1),
]


def _options(flags: list[str]) -> Options:
    runs = [flags[i + 1] for i, f in enumerate(flags) if f == "--run"]
    return Options(
        run=re.compile("|".join(runs)) if runs else None,
        ignore_unknown_fields="--ignore-unknown-fields" in flags,
    )


@pytest.mark.parametrize(("name", "flags", "expected"), CASES, ids=lambda v: str(v))
def test_promtool_unit_test_files(name: str, flags: list[str], expected: int) -> None:
    path = conformance_dir("promtool", name)
    out, err = io.StringIO(), io.StringIO()
    code = run_files([path], _options(flags), out, err)
    assert code == expected, out.getvalue() + err.getvalue()
    assert out.getvalue().startswith(f"Unit Testing: {path}\n")
    if expected:
        assert "  FAILED:" in err.getvalue()
    else:
        assert "  SUCCESS" in out.getvalue()


def test_failure_messages_read_like_promtool() -> None:
    path = conformance_dir("promtool", "failing.yml")
    err = io.StringIO()
    assert run_files([path], Options(), io.StringIO(), err) == 1
    text = err.getvalue()
    # A promql_expr_test value mismatch, with Go's float formatting.
    assert 'expr: "test", time: 0s,\n        exp: {__name__="test"} 1E+00\n' in text
    assert 'got: {__name__="test"} 0E+00' in text
    # Alerts expected but not firing, and firing but not expected.
    assert "alertname: Test, time: 0s" in text
    assert "alertname: AlwaysFiring, time: 5m" in text
    # `values: 0x10` is 0 repeated 10 more times (no hex in series values).
    assert "alertname: InstanceDown, time: 5m" in text
    assert 'Labels:{alertname="AlwaysFiring"}' in text


def test_rule_evaluation_errors_name_rule_and_time() -> None:
    path = conformance_dir("promtool", "bad-rules-error-test.yml")
    err = io.StringIO()
    assert run_files([path], Options(), io.StringIO(), err) == 1
    assert "rule: joined, time: 0s, err: " in err.getvalue()
    assert "many-to-many matching not allowed" in err.getvalue()


def test_cli_exit_codes_and_run_flag() -> None:
    path = str(conformance_dir("promtool", "rules_run.yml"))
    runner = CliRunner()
    assert runner.invoke(app, ["test", "rules", path]).exit_code == 1
    ok = runner.invoke(app, ["test", "rules", "--run", "correct", path])
    assert ok.exit_code == 0, ok.output
    assert "SUCCESS" in ok.output
    # --run is a Go regex: a POSIX class selects the same group.
    ok = runner.invoke(app, ["test", "rules", "--run", "c[[:alpha:]]rrect", path])
    assert ok.exit_code == 0, ok.output
    assert "SUCCESS" in ok.output
    bad = runner.invoke(app, ["test", "rules", "--run", "(", path])
    assert bad.exit_code == 2
    assert "--run" in bad.output


@pytest.mark.parametrize(
    ("name", "code", "needle"),
    [
        ("rules.yml", 0, "SUCCESS: 5 rules found"),
        (
            "rules-bad.yml",
            1,
            'rules-bad.yml:12: group "alerts", rule 1, "InstanceDown": '
            'annotation "summary": template: __alert_InstanceDown:1:12: '
            'undefined variable "$label"',
        ),
        (
            "rules_duplicates.yml",
            0,
            "1 duplicate rule(s) found.\nMetric: job:test:count_over_time1m",
        ),
        (
            "rules_large.yml",
            0,
            "Metric: job:http_inprogress_requests:sum:1\nLabel(s):\n\tjob: job1",
        ),
        ("rules_extrafields.yml", 1, "field ownership not found"),
    ],
)
def test_check_rules(name: str, code: int, needle: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert check_files([conformance_dir("promtool", name)], out=out, err=err) == code
    assert needle in out.getvalue() + err.getvalue()


def test_check_rules_lint_fatal_and_ignore_unknown() -> None:
    dup = conformance_dir("promtool", "rules_duplicates.yml")
    sink = io.StringIO()
    assert check_files([dup], lint_fatal=True, out=sink, err=sink) == 3
    assert check_files([dup], lint_duplicates=False, out=sink, err=sink) == 0
    extra = conformance_dir("promtool", "rules_extrafields.yml")
    assert check_files([extra], ignore_unknown_fields=True, out=sink, err=sink) == 0


def test_check_rules_cli() -> None:
    bad = str(conformance_dir("promtool", "rules-bad.yml"))
    result = CliRunner().invoke(app, ["check", "rules", bad])
    assert result.exit_code == 1
    assert "undefined variable" in result.output
