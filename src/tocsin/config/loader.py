"""Load tocsin's config: parse strictly, merge includes, validate, cross-check.

Layers as in Alertmanager's config loading: YAML (with positions), then the
schema (types and defaults), then checks that span sections (unique names).
Every problem found is reported with file, line and field, all at once.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tocsin.alerting.config import (
    AlertmanagerConfig,
    alertmanager_config_from_data,
    load_alertmanager_config,
)
from tocsin.alerting.extensions import AlertingExtensions, parse_extensions
from tocsin.config.schema import TocsinConfig
from tocsin.config.yamlpos import (
    Positions,
    dotted_path,
    load_yaml,
    problems_from_validation_error,
)
from tocsin.errors import ConfigError, ConfigProblem
from tocsin.rules.loader import load_rule_files
from tocsin.rules.model import GroupSpec


@dataclass
class LoadedConfig:
    config: TocsinConfig
    positions: Positions
    files: list[Path]
    base_dir: Path
    rule_groups: list[GroupSpec] = field(default_factory=list)
    rule_paths: list[Path] = field(default_factory=list)
    alertmanager: AlertmanagerConfig | None = None
    extensions: AlertingExtensions | None = None


def load_config(path: str | Path) -> LoadedConfig:
    """Load and validate a config file and its includes. Raises ConfigError."""
    path = Path(path)
    data, positions, files = _read_with_includes(path, set())
    try:
        config = TocsinConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation_error(exc, positions, data)) from None
    loaded = LoadedConfig(config, positions, files, path.parent)
    problems = _cross_check(config, positions)
    problems += _load_rules(loaded)
    problems += _load_alerting(loaded, data, path)
    if problems:
        raise ConfigError(problems)
    return loaded


def _load_rules(loaded: LoadedConfig) -> list[ConfigProblem]:
    """Rule files are part of the config: a broken one fails the load (and reload)."""
    problems: list[ConfigProblem] = []
    for i, pattern in enumerate(loaded.config.rule_files):
        found = sorted(glob.glob(str(loaded.base_dir / pattern)))
        if not found:
            f, line = loaded.positions.locate(("rule_files", i))
            problems.append(
                ConfigProblem(f, line, f"rule_files[{i}]", f"no file matches {pattern!r}")
            )
        loaded.rule_paths.extend(Path(p) for p in found)
    try:
        loaded.rule_groups = load_rule_files(loaded.rule_paths)
    except ConfigError as exc:
        problems.extend(exc.problems)
    return problems


def _load_alerting(loaded: LoadedConfig, data: dict[str, Any], path: Path) -> list[ConfigProblem]:
    section = loaded.config.alerting
    try:
        if section is not None and set(section) == {"config_file"}:
            am_path = loaded.base_dir / str(section["config_file"])
            loaded.alertmanager = load_alertmanager_config(am_path)
        elif section is not None:
            loaded.alertmanager = alertmanager_config_from_data(
                data["alerting"], loaded.positions, prefix=("alerting",)
            )
        loaded.extensions = parse_extensions(loaded.config.alerting_extensions, str(path))
    except ConfigError as exc:
        return exc.problems
    except OSError as exc:
        f, line = loaded.positions.locate(("alerting", "config_file"))
        return [ConfigProblem(f, line, "alerting.config_file", f"cannot read: {exc}")]
    # Options for a receiver the alerting config lacks (a typo) would never apply.
    known = [r.name for r in loaded.alertmanager.receivers] if loaded.alertmanager else []
    problems = []
    for name in loaded.extensions.check_receivers(known):
        where = ("alerting_extensions", "receivers", name)
        f, line = loaded.positions.locate(where)
        problems.append(
            ConfigProblem(f, line, dotted_path(where), f"no receiver named {name!r} is configured")
        )
    return problems


def _read(path: Path) -> tuple[Any, Positions]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read: {exc}")]) from None
    data, positions = load_yaml(text, str(path), expand_env=True)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigProblem(str(path), 1, "", "expected a mapping of sections at the top level")]
        )
    return data, positions


def _read_with_includes(
    path: Path, seen: set[Path]
) -> tuple[dict[str, Any], Positions, list[Path]]:
    resolved = path.resolve()
    if resolved in seen:
        raise ConfigError([ConfigProblem(str(path), None, "include", "include cycle")])
    seen = seen | {resolved}
    data, positions = _read(path)
    files = [path]
    includes = data.get("include", [])
    if not isinstance(includes, list):
        return data, positions, files  # the schema reports the wrong type
    for i, pattern in enumerate(includes):
        if not isinstance(pattern, str):
            continue
        matches = sorted(glob.glob(str(path.parent / pattern)))
        if not matches:
            f, line = positions.locate(("include", i))
            raise ConfigError(
                [ConfigProblem(f, line, f"include[{i}]", f"no file matches {pattern!r}")]
            )
        for match in matches:
            sub, sub_pos, sub_files = _read_with_includes(Path(match), seen)
            sub.pop("include", None)
            _merge(data, positions, sub, sub_pos, ())
            files.extend(sub_files)
    return data, positions, files


def _merge(
    into: dict[str, Any],
    pos: Positions,
    other: dict[str, Any],
    other_pos: Positions,
    path: tuple[str | int, ...],
) -> None:
    """Merge an included file: lists append, mappings merge, scalars must not clash."""
    for key, value in other.items():
        here = (*path, key)
        if key not in into:
            into[key] = value
            _copy_positions(pos, other_pos, here, here)
        elif isinstance(into[key], list) and isinstance(value, list):
            offset = len(into[key])
            into[key].extend(value)
            for i in range(len(value)):
                _copy_positions(pos, other_pos, (*here, i), (*here, offset + i))
        elif isinstance(into[key], dict) and isinstance(value, dict):
            _merge(into[key], pos, value, other_pos, here)
        else:
            f, line = other_pos.locate(here)
            f0, line0 = pos.locate(here)
            raise ConfigError(
                [
                    ConfigProblem(
                        f, line, dotted_path(here), f"also set in {f0}:{line0}; set it once"
                    )
                ]
            )


def _copy_positions(
    pos: Positions, other: Positions, src: tuple[str | int, ...], dst: tuple[str | int, ...]
) -> None:
    n = len(src)
    for p, where in other.lines.items():
        if p[:n] == src:
            pos.lines[dst + p[n:]] = where


def _cross_check(config: TocsinConfig, positions: Positions) -> list[ConfigProblem]:
    return [
        *_unique(positions, "sources", "name", config.source_names(), "source name"),
        *_unique(
            positions,
            "scrape_configs",
            "job_name",
            [j.job_name for j in config.scrape_configs],
            "job_name",
        ),
    ]


def _unique(
    positions: Positions, section: str, key: str, names: list[str], what: str
) -> list[ConfigProblem]:
    problems = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            f, line = positions.locate((section, i, key))
            f0, line0 = positions.locate((section, seen[name], key))
            problems.append(
                ConfigProblem(
                    f,
                    line,
                    f"{section}[{i}].{key}",
                    f"duplicate {what} {name!r} (first defined at {f0}:{line0})",
                )
            )
        else:
            seen[name] = i
    return problems
