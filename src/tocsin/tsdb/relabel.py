"""Prometheus relabelling (metric_relabel_configs) over plain label dicts."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tocsin.goregex import compile_go_regex
from tocsin.tsdb.config import RelabelConfig

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_REF = re.compile(r"\$(?:\{([^}]*)\}|([a-zA-Z0-9_]+)|(\$))")


def expand(template: str, m: re.Match[str]) -> str:
    """Go's regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown -> ""."""

    def sub(ref: re.Match[str]) -> str:
        if ref.group(3):
            return "$"
        name = ref.group(1) if ref.group(1) is not None else ref.group(2)
        try:
            got = m.group(int(name)) if name.isdigit() else m.group(name)
        except IndexError:  # no such group
            return ""
        return got or ""

    return _REF.sub(sub, template)


class _Step:
    __slots__ = ("cfg", "regex")

    def __init__(self, cfg: RelabelConfig) -> None:
        self.cfg = cfg
        # Anchored and dot-all, as Prometheus's relabel regexes (^(?s:re)$).
        self.regex = compile_go_regex(cfg.regex, anchored=True, dotall=True)


class Relabeler:
    """Applies a list of relabel configs; None means the series is dropped."""

    def __init__(self, configs: Sequence[RelabelConfig]) -> None:
        self._steps = [_Step(c) for c in configs]

    def __bool__(self) -> bool:
        return bool(self._steps)

    def apply(self, labels: dict[str, str]) -> dict[str, str] | None:
        lb = dict(labels)
        for step in self._steps:
            cfg = step.cfg
            action = cfg.action
            if action in ("replace", "keep", "drop"):
                joined = cfg.separator.join(lb.get(n, "") for n in cfg.source_labels)
                m = step.regex.match(joined)
                if action == "keep":
                    if m is None:
                        return None
                elif action == "drop":
                    if m is not None:
                        return None
                elif m is not None:
                    target = expand(cfg.target_label or "", m)
                    if not _LABEL_NAME.match(target):
                        continue
                    value = expand(cfg.replacement, m)
                    if value:
                        lb[target] = value
                    else:
                        lb.pop(target, None)
            elif action == "labelmap":
                for name, value in list(lb.items()):
                    m = step.regex.match(name)
                    if m is not None:
                        lb[expand(cfg.replacement, m)] = value
            elif action == "labeldrop":
                lb = {k: v for k, v in lb.items() if not step.regex.match(k)}
            elif action == "labelkeep":
                lb = {k: v for k, v in lb.items() if step.regex.match(k)}
        lb = {k: v for k, v in lb.items() if v != ""}
        if not lb.get("__name__"):
            return None
        return lb
