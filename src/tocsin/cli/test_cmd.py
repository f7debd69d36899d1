"""`tocsin test promql|rules`: run promqltest scripts and promtool rule tests."""

from __future__ import annotations

import typer

test_app = typer.Typer(help="Run PromQL conformance scripts and rule unit tests.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(test_app, name="test")
