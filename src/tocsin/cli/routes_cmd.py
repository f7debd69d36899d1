"""`tocsin routes test`: which receivers an alert reaches (like amtool)."""

from __future__ import annotations

from pathlib import Path

import typer

from tocsin.alerting.config import load_alertmanager_config
from tocsin.alerting.matchers import MatcherError, parse_matcher
from tocsin.alerting.routing import Route, build_tree, render_matching_tree, render_tree
from tocsin.errors import ConfigError
from tocsin.tsdb.types import MatchOp

routes_app = typer.Typer(help="Inspect and test the alert routing tree.", no_args_is_help=True)

_CONFIG_HELP = "Alertmanager config file."


def _load(config_file: Path) -> Route:
    try:
        return build_tree(load_alertmanager_config(config_file))
    except ConfigError as exc:
        typer.echo(f"tocsin: error: {exc}", err=True)
        raise typer.Exit(1) from None


def _parse_labels(args: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for arg in args:
        try:
            m = parse_matcher(arg)
        except MatcherError as exc:
            typer.echo(f"tocsin: error: Failed to parse labels: {exc}", err=True)
            raise typer.Exit(1) from None
        if m.op is not MatchOp.EQ:
            typer.echo("tocsin: error: Labels must be specified as key=value pairs", err=True)
            raise typer.Exit(1)
        labels[m.name] = m.value
    return labels


@routes_app.command("show")
def routes_show(
    config_file: Path = typer.Option(..., "--config.file", help=_CONFIG_HELP),
) -> None:
    """Print the whole routing tree (like `amtool config routes show`)."""
    tree = _load(config_file)
    typer.echo("Routing tree:")
    typer.echo(render_tree(tree))


@routes_app.command("test")
def routes_test(
    labels: list[str] = typer.Argument(None, help="Alert labels as name=value."),
    config_file: Path = typer.Option(..., "--config.file", help=_CONFIG_HELP),
    tree: bool = typer.Option(False, "--tree", help="Also print the matching routes tree."),
    verify_receivers: str = typer.Option(
        "",
        "--verify.receivers",
        help="Expected receivers, comma-separated; exit 1 when they differ.",
    ),
) -> None:
    """Print the receivers an alert with these labels reaches, in order.

    Output and exit status match `amtool config routes test`.
    """
    root = _load(config_file)
    alert_labels = _parse_labels(labels or [])
    if tree:
        typer.echo("Matching routes:")
        typer.echo(render_matching_tree(root, alert_labels))
        typer.echo("")
    slug = ",".join(root.receivers(alert_labels))
    typer.echo(slug)
    if verify_receivers and verify_receivers != slug:
        typer.echo("WARNING: Expected receivers did not match resolved receivers.")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(routes_app, name="routes")
