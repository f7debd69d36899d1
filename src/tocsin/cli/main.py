"""Entry point of the `tocsin` command.

Each command module exposes `register(app)`; this file only assembles them, so
command groups can grow without touching one another.
"""

from __future__ import annotations

import typer

from tocsin import __version__
from tocsin.cli import check_cmd, config_cmd, routes_cmd, run_cmd, sim_cmd, test_cmd

app = typer.Typer(
    name="tocsin",
    help="Monitoring and alerting for large fleets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print tocsin's version."""
    typer.echo(f"tocsin {__version__}")


for module in (run_cmd, sim_cmd, config_cmd, test_cmd, check_cmd, routes_cmd):
    module.register(app)


def main() -> None:
    app()
