"""Scenario files: a YAML list of faults with times relative to simulator start.

Shape::

    faults:
      - kind: zone_outage
        at: 30
        duration: 120
        zones: [v00001-z1]

A bare top-level list of faults is accepted too. Errors name the file, the line
and the field, e.g. ``scenario.yml:7: faults[2].period: Input should be greater than 0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tocsin.errors import ConfigError, ConfigProblem
from tocsin.sim.config import FaultSpec


def _node_at(root: yaml.Node | None, loc: tuple[str | int, ...]) -> yaml.Node | None:
    """The deepest YAML node along `loc`, to report the line of a bad field."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            nxt = node.value[part] if 0 <= part < len(node.value) else None
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
    return node


def _key_line(root: yaml.Node | None, key: object) -> int | None:
    if isinstance(root, yaml.MappingNode):
        for k, _ in root.value:
            if getattr(k, "value", None) == key:
                return _line(k)
    return _line(root)


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _field(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_scenario(text: str, file: str = "<scenario>") -> list[FaultSpec]:
    """Parse scenario YAML text into validated fault specs, or raise ConfigError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigProblem(file, line, "", f"invalid YAML: {exc}")]) from exc
    prefix: tuple[str | int, ...] = ()
    if data is None:
        return []
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"faults", "name", "description"})
        if unknown:
            raise ConfigError(
                [
                    ConfigProblem(
                        file,
                        _key_line(root, unknown[0]),
                        str(unknown[0]),
                        "unknown top-level key; expected 'faults' (and optional 'name', "
                        "'description')",
                    )
                ]
            )
        data = data.get("faults") or []
        prefix = ("faults",)
    if not isinstance(data, list):
        raise ConfigError(
            [ConfigProblem(file, _line(root), _field(prefix), "expected a list of faults")]
        )
    problems: list[ConfigProblem] = []
    specs: list[FaultSpec] = []
    seen_ids: set[str] = set()
    for i, entry in enumerate(data):
        loc = (*prefix, i)
        if not isinstance(entry, dict):
            problems.append(
                ConfigProblem(file, _line(_node_at(root, loc)), _field(loc), "expected a mapping")
            )
            continue
        try:
            spec = FaultSpec.model_validate(entry)
        except ValidationError as exc:
            for err in exc.errors():
                full = (*loc, *err["loc"])
                problems.append(
                    ConfigProblem(file, _line(_node_at(root, full)), _field(full), err["msg"])
                )
            continue
        if spec.id is not None:
            if spec.id in seen_ids:
                full = (*loc, "id")
                problems.append(
                    ConfigProblem(
                        file,
                        _line(_node_at(root, full)),
                        _field(full),
                        f"duplicate fault id '{spec.id}'",
                    )
                )
            seen_ids.add(spec.id)
        specs.append(spec.model_copy(update={"at": spec.at or 0.0}))
    if problems:
        raise ConfigError(problems)
    return specs


def load_scenario(path: str | Path) -> list[FaultSpec]:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(p), None, "", f"cannot read: {exc}")]) from exc
    return parse_scenario(text, str(p))
