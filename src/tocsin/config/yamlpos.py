"""YAML loading that remembers where every value came from.

Config errors must name the file and line of the offending field. PyYAML's
composed node tree carries positions; we walk it once next to the
constructed data and keep a map from the value's path (the keys and list
indexes leading to it) to its file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from tocsin.errors import ConfigError, ConfigProblem

Path_ = tuple[str | int, ...]


@dataclass
class Positions:
    """Where each config value was written: path -> (file, line)."""

    file: str
    lines: dict[Path_, tuple[str, int]] = field(default_factory=dict)

    def locate(self, path: Sequence[str | int]) -> tuple[str, int | None]:
        """The file and line of `path`, or of its nearest ancestor we know."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), (self.file, None))

    def merge(self, other: Positions, prefix: Path_ = ()) -> None:
        for path, where in other.lines.items():
            self.lines[prefix + path] = where


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


# libyaml's parser when present: large configs (thousands of routes) load
# several times faster; positions come from its nodes just the same.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader that keeps YAML 1.1 quirks out: 'on'/'off' stay strings."""


# YAML 1.1 reads `on`, `off`, `yes`, `no` as booleans; configs (and Alertmanager's
# Go YAML v2 in practice) expect only true/false, so narrow the bool resolver.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str, file: str, *, expand_env: bool = False) -> tuple[Any, Positions]:
    """Parse YAML text, returning the data and the position of every value.

    With `expand_env`, `${VAR}` and `${VAR:-default}` in string values are
    replaced from the environment; an unset variable without default is an
    error naming its line.
    """
    positions = Positions(file)
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            [ConfigProblem(file, line, "", f"invalid YAML: {exc.problem or exc}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(file, None, "", f"invalid YAML: {exc}")]) from None
    if node is not None:
        positions.lines[()] = (file, node.start_mark.line + 1)
        _walk(node, (), file, positions)
    if expand_env:
        problems: list[ConfigProblem] = []
        data = _expand(data, (), positions, problems)
        if problems:
            raise ConfigError(problems)
    return data, positions


def _walk(node: yaml.Node, path: Path_, file: str, positions: Positions) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            positions.lines[(*path, key)] = (file, key_node.start_mark.line + 1)
            _walk(value_node, (*path, key), file, positions)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            positions.lines[(*path, i)] = (file, item.start_mark.line + 1)
            _walk(item, (*path, i), file, positions)


def _expand(value: Any, path: Path_, positions: Positions, problems: list[ConfigProblem]) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            got = os.environ.get(name)
            if got is None:
                if default is not None:
                    return default
                f, line = positions.locate(path)
                problems.append(
                    ConfigProblem(
                        f, line, dotted_path(path), f"environment variable {name} is not set"
                    )
                )
                return ""
            return got

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, (*path, k), positions, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*path, i), positions, problems) for i, v in enumerate(value)]
    return value


def dotted_path(path: Iterable[str | int]) -> str:
    """`sources[0].mapping.up`: how config errors name a field."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def problems_from_validation_error(
    exc: ValidationError, positions: Positions, data: Any = None
) -> list[ConfigProblem]:
    """Turn pydantic's errors into ConfigProblems with file, line and field.

    Pydantic adds union/discriminator tags to `loc` (e.g. `http_json`,
    `function-after[...]`); those are not keys of the YAML, so we keep only
    the parts that walk through the actual data.
    """
    problems = []
    for err in exc.errors(include_url=False):
        path = _real_path(err["loc"], data)
        f, line = positions.locate(path)
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            disc = err.get("ctx", {}).get("discriminator", "")
            key = disc.strip("'")
            if key and key.isidentifier():
                path = (*path, key)
                f, line = positions.locate(path)
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not allowed here; check the spelling)"
        elif err["type"] == "missing":
            msg = "field required"
        elif "input" in err and err["type"] not in ("union_tag_invalid",):
            shown = err["input"]
            if isinstance(shown, str | int | float | bool) and len(str(shown)) < 80:
                msg = f"{msg} (got {shown!r})"
        problems.append(ConfigProblem(f, line, dotted_path(path), msg))
    return problems


def _real_path(loc: Sequence[str | int], data: Any) -> Path_:
    if data is None:
        return tuple(loc)
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, Mapping) and part in [v for v in node.values() if isinstance(v, str)]:
            continue  # a discriminated-union tag: the value of `type:`, not a key
        elif isinstance(node, Mapping) and isinstance(part, str) and not _looks_like_tag(part):
            # A missing or unknown key: name it even though it is not in the data.
            path.append(part)
            node = None
        # else: a pydantic union/validator tag; skip it.
    return tuple(path)


def _looks_like_tag(part: str) -> bool:
    return "[" in part or ("-" in part and part.startswith(("function", "tagged", "union")))
