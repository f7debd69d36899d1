"""`tocsin routes test`: which receivers an alert reaches (like amtool)."""

from __future__ import annotations

import typer

routes_app = typer.Typer(help="Inspect and test the alert routing tree.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(routes_app, name="routes")
