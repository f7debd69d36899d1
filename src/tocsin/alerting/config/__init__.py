"""Alertmanager config files, loaded as they are.

`parse_alertmanager_config` runs the three layers of Alertmanager's own
loader: strict parsing (unknown keys and bad values are errors), defaults
from `global`, then references across the file. Every problem found is
reported at once, each with file, line and field, in one ConfigError.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from tocsin.alerting.config.checks import check_references, walk_routes
from tocsin.alerting.config.defaults import apply_global_defaults
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
from tocsin.config.yamlpos import Positions, load_yaml, problems_from_validation_error
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
    "load_alertmanager_config",
    "parse_alertmanager_config",
    "walk_routes",
]


def load_alertmanager_config(path: str | Path) -> AlertmanagerConfig:
    """Read and check an Alertmanager config file. Raises ConfigError."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(name, None, "", f"cannot read file: {exc}")]) from None
    return parse_alertmanager_config(text, name)


def parse_alertmanager_config(text: str, filename: str = "<config>") -> AlertmanagerConfig:
    """Parse Alertmanager config text. Raises ConfigError listing every problem."""
    data, positions = load_yaml(text, filename)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigProblem(filename, 1, "", "an Alertmanager config must be a YAML mapping")]
        )
    try:
        cfg = AlertmanagerConfig.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation_error(exc, positions, data)
        for p in problems:
            p.message = p.message.removeprefix("Value error, ")
        raise ConfigError(problems) from None
    found = apply_global_defaults(cfg) + check_references(cfg)
    if found:
        raise ConfigError([_problem(positions, path, msg) for path, msg in found])
    return cfg


def _problem(positions: Positions, path: tuple[str | int, ...], message: str) -> ConfigProblem:
    file, line = positions.locate(path)
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return ConfigProblem(file, line, field, message)
