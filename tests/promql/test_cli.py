"""`tocsin test promql` output and exit code."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tocsin.cli.main import app

SCRIPT = """
load 1m
  up{job="a"} 1 1 0
  up{job="b"} 1 1 1

eval instant at 2m sum(up)
  {} 1

eval instant at 2m up == 0
  up{job="b"} 0

eval instant at 2m histogram_count(up)
  {} 1
"""


def test_promql_command_reports_failures_and_summary(tmp_path: Path) -> None:
    script = tmp_path / "mixed.test"
    script.write_text(SCRIPT)
    result = CliRunner().invoke(app, ["test", "promql", str(script)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1] == "1 passed, 1 failed, 1 skipped"
    assert f"{script}:9: up == 0" in result.output


def test_promql_command_passes(tmp_path: Path) -> None:
    script = tmp_path / "ok.test"
    script.write_text(SCRIPT.split("eval instant at 2m up == 0")[0])
    result = CliRunner().invoke(app, ["test", "promql", str(script)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "1 passed, 0 failed, 0 skipped"
