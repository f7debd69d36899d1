"""`tocsin check rules`: validate Prometheus rule files."""

from __future__ import annotations

from pathlib import Path

import typer

check_app = typer.Typer(help="Validate rule files.", no_args_is_help=True)


@check_app.command("rules")
def rules(
    files: list[Path] = typer.Argument(..., help="Prometheus rule files"),
    ignore_unknown_fields: bool = typer.Option(
        False, "--ignore-unknown-fields", help="Ignore unknown fields in the rule files."
    ),
    lint: str = typer.Option(
        "duplicate-rules", "--lint", help="Lint checks: duplicate-rules, all or none."
    ),
    lint_fatal: bool = typer.Option(
        False, "--lint-fatal", help="Exit with code 3 when a lint check finds something."
    ),
) -> None:
    """Check rule files like `promtool check rules` (exit 1 on errors)."""
    from tocsin.rules.check import check_files

    if lint not in ("duplicate-rules", "all", "none"):
        raise typer.BadParameter(f"unknown lint option {lint!r}", param_hint="--lint")
    code = check_files(
        [str(f) for f in files],
        ignore_unknown_fields=ignore_unknown_fields,
        lint_duplicates=lint != "none",
        lint_fatal=lint_fatal,
    )
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.add_typer(check_app, name="check")
