"""Alertmanager config files, loaded as they are.

`parse_alertmanager_config` runs the three layers of Alertmanager's own
loader: strict parsing (unknown keys and bad values are errors), defaults
from `global`, then references across the file. Every problem found is
reported at once, each with file, line and field, in one ConfigError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tocsin.alerting.config.checks import check_references, walk_routes
from tocsin.alerting.config.defaults import apply_global_defaults
from tocsin.alerting.config.dupkeys import duplicate_keys
from tocsin.alerting.config.models import (
    AlertmanagerConfig,
    GlobalConfig,
    InhibitRuleConfig,
    NamedTimeInterval,
    RouteConfig,
)
from tocsin.alerting.config.receivers import (
    SUPPORTED_KINDS,
    UNSUPPORTED_KINDS,
    EmailConfig,
    MSTeamsConfig,
    MSTeamsV2Config,
    OpsGenieConfig,
    PagerdutyConfig,
    Receiver,
    SlackConfig,
    WebhookConfig,
)
from tocsin.alerting.config.unsupported import check_unsupported
from tocsin.config.yamlpos import (
    Positions,
    dotted_path,
    load_yaml,
    problems_from_validation_error,
)
from tocsin.errors import ConfigError, ConfigProblem

__all__ = [
    "SUPPORTED_KINDS",
    "UNSUPPORTED_KINDS",
    "AlertmanagerConfig",
    "EmailConfig",
    "GlobalConfig",
    "InhibitRuleConfig",
    "MSTeamsConfig",
    "MSTeamsV2Config",
    "NamedTimeInterval",
    "OpsGenieConfig",
    "PagerdutyConfig",
    "Receiver",
    "RouteConfig",
    "SlackConfig",
    "WebhookConfig",
    "alertmanager_config_from_data",
    "load_alertmanager_config",
    "looks_like_alertmanager_config",
    "parse_alertmanager_config",
    "walk_routes",
]


_AM_KEYS = frozenset(
    {"global", "route", "receivers", "inhibit_rules", "templates", "time_intervals"}
    | {"mute_time_intervals", "tracing", "event_recorder"}
)


def looks_like_alertmanager_config(data: Any) -> bool:
    """A YAML mapping with a `route` and only Alertmanager's top-level keys
    (for `tocsin check-config FILE` to tell the two config kinds apart)."""
    return isinstance(data, dict) and "route" in data and set(data) <= _AM_KEYS


def load_alertmanager_config(path: str | Path) -> AlertmanagerConfig:
    """Read and check an Alertmanager config file. Raises ConfigError."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(name, None, "", f"cannot read file: {exc}")]) from None
    return parse_alertmanager_config(text, name)


def parse_alertmanager_config(text: str, filename: str = "<config>") -> AlertmanagerConfig:
    """Parse Alertmanager config text. Raises ConfigError listing every problem.

    Relative `templates` globs are taken relative to `filename`'s directory,
    as Alertmanager does.
    """
    data, positions = load_yaml(text, filename)
    dups = duplicate_keys(text, filename)
    if dups:
        raise ConfigError(dups)
    cfg = alertmanager_config_from_data({} if data is None else data, positions)
    cfg.base_dir = str(Path(filename).parent) if filename != "<config>" else ""
    return cfg


def alertmanager_config_from_data(
    data: Any, positions: Positions, prefix: tuple[str | int, ...] = ()
) -> AlertmanagerConfig:
    """Check already-loaded YAML data found at `prefix` of a bigger file.

    For tocsin's own config, whose `alerting:` section is an Alertmanager
    config: pass that section's data, the positions of the whole file and
    `prefix=("alerting",)`, and problems name `alerting.route...` and the
    right lines.
    """
    where = _Shifted(positions, prefix)
    if not isinstance(data, dict):
        raise ConfigError([where.problem((), "an Alertmanager config must be a YAML mapping")])
    try:
        cfg = AlertmanagerConfig.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation_error(exc, where.inner, data)
        for p in problems:
            p.message = _tidy(p.message)
            p.field = where.field_name(p.field)
        raise ConfigError(problems) from None
    found = apply_global_defaults(cfg) + check_unsupported(cfg) + check_references(cfg)
    if found:
        raise ConfigError([where.problem(path, msg) for path, msg in found])
    return cfg


def _tidy(message: str) -> str:
    """Drop pydantic's "Value error, " and a "(got X)" our message already shows."""
    message = message.removeprefix("Value error, ")
    head, sep, tail = message.rpartition(" (got ")
    if sep and tail.endswith(")") and tail[:-1] in head:
        return head
    return message


class _Shifted:
    """Positions of a sub-document: paths relative to `prefix`."""

    def __init__(self, positions: Positions, prefix: tuple[str | int, ...]) -> None:
        self.prefix = prefix
        k = len(prefix)
        self.inner = Positions(positions.file)
        self.inner.lines = {p[k:]: where for p, where in positions.lines.items() if p[:k] == prefix}
        self.outer = positions

    def field_name(self, inner_field: str) -> str:
        head = dotted_path(self.prefix)
        if not head:
            return inner_field
        if not inner_field:
            return head
        return head + inner_field if inner_field.startswith("[") else f"{head}.{inner_field}"

    def problem(self, path: tuple[str | int, ...], message: str) -> ConfigProblem:
        file, line = self.outer.locate((*self.prefix, *path))
        return ConfigProblem(file, line, dotted_path((*self.prefix, *path)), message)
