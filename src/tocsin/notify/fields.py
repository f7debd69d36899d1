"""Reading integration configs: Alertmanager field names, secrets, templates.

Configs arrive as plain mappings keyed exactly like Alertmanager's YAML (the
lead's config models dump to that shape). Each integration declares a
dataclass with those names; `parse_config` fills it and rejects unknown keys
or wrong types with a message naming the field.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from tocsin.errors import ConfigError, ConfigProblem
from tocsin.notify.types import DeliveryFailure, Notification, Render

C = TypeVar("C")

_SIMPLE = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}


def _accepts(tp: Any, value: Any) -> bool:
    """A shallow type check: enough to catch `send_resolved: "yes"`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is Any:
        return True
    if tp is bool:
        return isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    base = origin or tp
    if base in (list, tuple):
        return isinstance(value, list | tuple)
    if base in (dict, Mapping):
        return isinstance(value, Mapping)
    return True


def _describe(tp: Any) -> str:
    args = typing.get_args(tp) or (tp,)
    names = [_SIMPLE.get(a, getattr(a, "__name__", str(a))) for a in args if a is not type(None)]
    return " or ".join(names)


_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as `30s`, `1m30s` or `500ms`."""
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(m[1]) * _UNIT[m[2]]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 30s, 1m30s, 500ms)")
    return total


def _is_number(tp: Any) -> bool:
    return tp is float or float in typing.get_args(tp)


def plain(value: Any) -> Any:
    """Plain data from config-model values: models dumped by YAML key, secrets revealed.

    Lets the alerting config models (pydantic, SecretStr) be passed as they are.
    """
    if hasattr(value, "get_secret_value"):
        return value.get_secret_value()
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(by_alias=True))
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def parse_config(
    cls: type[C], data: Any, where: str, renames: Mapping[str, str] | None = None
) -> C:
    """Build config dataclass `cls` from `data`; `where` names it in errors.

    `data` is a mapping keyed like the YAML, or a config model. A value of
    None means "not set" and keeps the default, as a missing key does.
    `renames` maps YAML keys that are Python keywords (`from`, `class`) to
    the dataclass field names.
    """
    if isinstance(data, cls):
        return data
    data = plain(data)
    if renames and isinstance(data, Mapping):
        data = {(renames.get(k, k)): v for k, v in data.items()}
    if not isinstance(data, Mapping):
        raise ConfigError([ConfigProblem(where, None, "", "expected a mapping of fields")])
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    problems: list[ConfigProblem] = []
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            problems.append(ConfigProblem(where, None, str(key), "unknown field"))
            continue
        if value is None:
            continue
        if isinstance(value, str) and _is_number(hints[key]):
            try:
                value = parse_duration(value)
            except ValueError as e:
                problems.append(ConfigProblem(where, None, key, str(e)))
                continue
        if not _accepts(hints[key], value):
            problems.append(
                ConfigProblem(where, None, key, f"expected {_describe(hints[key])}, got {value!r}")
            )
            continue
        kwargs[key] = value
    if problems:
        raise ConfigError(problems)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError([ConfigProblem(where, None, "", str(e))]) from e


def problem(where: str, field: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(where, None, field, message)])


def read_secret(value: str | None, file: str | None, service: str, field: str) -> str:
    """The secret from the config or from its `_file` twin, read at send time.

    Reading per send means a rotated secret file is picked up without reload.
    """
    if value:
        return value
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise DeliveryFailure(
                f"{service}: cannot read {field}_file {file}: {e.strerror}", retryable=False
            ) from e
    raise DeliveryFailure(f"{service}: neither {field} nor {field}_file is set", retryable=False)


def render_text(render: Render, text: str, n: Notification, service: str, field: str) -> str:
    """Render one templated field; a template error is a permanent failure."""
    if not text:
        return ""
    try:
        return render(text, n)
    except Exception as e:
        raise DeliveryFailure(f"{service}: template error in {field}: {e}", retryable=False) from e


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Cut `text` to `limit` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text, False
    return text[: limit - 1] + "\u2026", True
