"""`tocsin test promql|rules`: run promqltest scripts and promtool rule tests."""

from __future__ import annotations

from pathlib import Path

import typer

test_app = typer.Typer(
    help="Run PromQL conformance scripts and rule unit tests.", no_args_is_help=True
)


@test_app.command("promql")
def promql(
    files: list[Path] = typer.Argument(..., help="promqltest scripts (*.test)", exists=True),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also list skipped cases."),
) -> None:
    """Run PromQL scripts in Prometheus' promqltest format."""
    from tocsin.promql.promqltest import FAILED, SKIPPED, Runner, summarize

    runner = Runner()
    totals = [0, 0, 0]
    for path in files:
        results = runner.run_file(path)
        passed, failed, skipped = summarize(results)
        totals[0] += passed
        totals[1] += failed
        totals[2] += skipped
        typer.echo(f"{path}: {passed} passed, {failed} failed, {skipped} skipped")
        for r in results:
            if r.status == FAILED or (verbose and r.status == SKIPPED):
                typer.echo(f"  {r.status.upper()} {r.file}:{r.line}: {r.query}")
                for line in r.message.splitlines():
                    typer.echo(f"    {line}")
    typer.echo(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    if totals[1]:
        raise typer.Exit(1)


@test_app.command("rules")
def rules(
    files: list[Path] = typer.Argument(..., help="promtool rule unit test files (*.yml)"),
    run: list[str] = typer.Option(
        None, "--run", help="Only test groups whose name matches this regex (repeatable)."
    ),
    ignore_unknown_fields: bool = typer.Option(
        False, "--ignore-unknown-fields", help="Ignore unknown fields in the rule files."
    ),
    debug: bool = typer.Option(False, "--debug", help="Print debug output and a data dump."),
) -> None:
    """Run rule unit tests in `promtool test rules` format."""
    from tocsin.goregex import GoRegexError, compile_go_regex
    from tocsin.rules.ruletest import Options, run_files

    try:  # promtool's --run is a Go regex; the alternatives joined as it does
        pattern = compile_go_regex("|".join(run)) if run else None
    except GoRegexError as exc:
        raise typer.BadParameter(str(exc), param_hint="--run") from None
    opts = Options(run=pattern, ignore_unknown_fields=ignore_unknown_fields, debug=debug)
    raise typer.Exit(run_files([str(f) for f in files], opts))


def register(app: typer.Typer) -> None:
    app.add_typer(test_app, name="test")
