"""`tocsin check rules`: validate Prometheus rule files."""

from __future__ import annotations

import typer

check_app = typer.Typer(help="Validate rule files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(check_app, name="check")
