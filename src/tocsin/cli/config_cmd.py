"""`tocsin check-config`: validate tocsin or Alertmanager config files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from tocsin.errors import ConfigError

if TYPE_CHECKING:
    from tocsin.alerting.config import AlertmanagerConfig


def register(app: typer.Typer) -> None:
    app.command("check-config")(check_config)


def is_alertmanager_config(path: Path) -> bool:
    from tocsin.alerting.config import looks_like_alertmanager_config

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False  # the tocsin loader reports the unreadable file properly
    return looks_like_alertmanager_config(data)


def check_config(
    files: Annotated[list[Path], typer.Argument(help="Config files to check.")],
) -> None:
    """Validate config files; print every problem with file, line and field.

    Accepts tocsin's own config and Alertmanager config files. Exits 1 when
    any file has a problem.
    """
    failed = False
    for path in files:
        try:
            if is_alertmanager_config(path):
                _check_alertmanager(path)
            else:
                _check_tocsin(path)
        except ConfigError as exc:
            failed = True
            typer.echo(f"FAILED: {path}", err=True)
            for problem in exc.problems:
                typer.echo(f"  {problem}", err=True)
    if failed:
        raise typer.Exit(1)


def _check_tocsin(path: Path) -> None:
    from tocsin.config.loader import load_config
    from tocsin.sources.estimate import estimate_calls_per_hour

    loaded = load_config(path)
    cfg = loaded.config
    if loaded.alertmanager is not None:
        _check_receivers(loaded.alertmanager, path)
    typer.echo(f"SUCCESS: {path} is a valid tocsin config")
    for extra in loaded.files[1:]:
        typer.echo(f"  includes {extra}")
    if loaded.rule_groups:
        n_rules = sum(len(g.rules) for g in loaded.rule_groups)
        typer.echo(
            f"  {len(loaded.rule_groups)} rule groups, {n_rules} rules "
            f"from {len(loaded.rule_paths)} files"
        )
    if loaded.alertmanager is not None:
        am = loaded.alertmanager
        typer.echo(
            f"  alerting: {len(am.receivers)} receivers, {len(am.inhibit_rules)} inhibit rules"
        )
    for source in cfg.sources:
        calls = estimate_calls_per_hour(source)
        typer.echo(
            f"  source {source.name} ({source.type}): every {source.interval:g}s, "
            f"~{calls:,.0f} API calls per hour"
        )


def _check_alertmanager(path: Path) -> None:
    from tocsin.alerting.config import load_alertmanager_config

    cfg = load_alertmanager_config(path)
    _check_receivers(cfg, path)
    typer.echo(f"SUCCESS: {path} is a valid Alertmanager config")
    typer.echo(f"  {len(cfg.receivers)} receivers, {len(cfg.inhibit_rules)} inhibit rules")


def _check_receivers(cfg: AlertmanagerConfig, path: Path) -> None:
    """Build the templates and receivers as `tocsin run` does (nothing is
    sent), so that a file the runtime would refuse fails here too: a template
    file that does not parse, a receiver kind tocsin does not implement (named
    with its receiver), an Apprise URL it cannot use."""
    from tocsin.clock import SystemClock
    from tocsin.notify.deps import IntegrationDeps
    from tocsin.notify.dispatch import Receivers
    from tocsin.notify.retry import MemoryAttemptSink, Retrier
    from tocsin.runtime.alerting_setup import load_templates
    from tocsin.templating.alertmanager import notification_renderer

    render = notification_renderer(load_templates(cfg, file=str(path)))
    retrier = Retrier(SystemClock(), MemoryAttemptSink())
    # No HTTP session is opened: integrations create theirs on first send.
    Receivers.build(cfg.receivers, IntegrationDeps(render=render), retrier, file=str(path))
