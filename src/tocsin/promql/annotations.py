"""Warnings and infos a query produces, worded as Prometheus words them.

promql-parser gives no source positions, so the "(line:col)" suffix Prometheus
appends is recovered from the query text: the call (or aggregation) is found by
name and its arguments are split at top-level commas. When a name occurs more
than once, the first occurrence is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Annotations:
    query: str
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)

    def warn(self, text: str, name: str, arg: int | None = None) -> None:
        msg = f"PromQL warning: {text}{self._where(name, arg)}"
        if msg not in self.warnings:
            self.warnings.append(msg)

    def info(self, text: str, name: str, arg: int | None = None) -> None:
        msg = f"PromQL info: {text}{self._where(name, arg)}"
        if msg not in self.infos:
            self.infos.append(msg)

    def _where(self, name: str, arg: int | None) -> str:
        pos = locate(self.query, name, arg)
        if pos is None:
            return ""
        line = self.query.count("\n", 0, pos) + 1
        col = pos - (self.query.rfind("\n", 0, pos) + 1) + 1
        return f" ({line}:{col})"


_CLAUSE = r"(?:\s*(?:by|without)\s*\([^)]*\))?"


def locate(query: str, name: str, arg: int | None) -> int | None:
    """Offset of the call `name(...)`, or of its argument number `arg`."""
    m = re.search(rf"(?<![\w:]){re.escape(name)}{_CLAUSE}\s*\(", query)
    if m is None:
        return None
    if arg is None:
        return m.start()
    starts = _arg_starts(query, m.end())
    return starts[arg] if arg < len(starts) else None


def _arg_starts(query: str, i: int) -> list[int]:
    starts: list[int] = []
    depth = 0
    start = i
    quote = ""
    while i < len(query):
        ch = query[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            starts.append(start)
            start = i + 1
        i += 1
    starts.append(start)
    out = []
    for s in starts:
        while s < len(query) and query[s].isspace():
            s += 1
        out.append(s)
    return out
