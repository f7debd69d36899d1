"""`tocsin check rules`: validate rule files as `promtool check rules` does.

Errors make a file fail (exit 1). Duplicate rules (same metric or alert name
and same labels, across the file's groups) are a lint finding: reported as
FAILED but exit 0, or exit 3 with `lint_fatal`, as promtool.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tocsin.errors import ConfigError
from tocsin.rules.loader import load_rule_file
from tocsin.rules.model import GroupSpec

EXIT_OK, EXIT_ERROR, EXIT_LINT = 0, 1, 3


@dataclass(frozen=True)
class Duplicate:
    metric: str
    labels: tuple[tuple[str, str], ...]


def find_duplicates(groups: Sequence[GroupSpec]) -> list[Duplicate]:
    """Rules that would write (or alert on) the same series, each listed once."""
    seen: set[Duplicate] = set()
    dups: list[Duplicate] = []
    for g in groups:
        for r in g.rules:
            key = Duplicate(r.name, tuple(sorted({**g.labels, **r.labels}.items())))
            if key in seen and key not in dups:
                dups.append(key)
            seen.add(key)
    return sorted(dups, key=lambda d: (d.metric, d.labels))


def check_files(
    files: Sequence[str | Path],
    *,
    ignore_unknown_fields: bool = False,
    lint_duplicates: bool = True,
    lint_fatal: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    failed = has_errors = False
    for f in files:
        print(f"Checking {f}", file=out)
        try:
            groups = load_rule_file(f, ignore_unknown_fields=ignore_unknown_fields)
        except ConfigError as exc:
            failed = has_errors = True
            print("  FAILED:", file=err)
            for p in exc.problems:
                print(str(p), file=err)
            print(file=out)
            continue
        dups = find_duplicates(groups) if lint_duplicates else []
        if dups:
            failed = True
            lines = [f"{len(dups)} duplicate rule(s) found."]
            for d in dups:
                lines.append(f"Metric: {d.metric}")
                lines.append("Label(s):")
                lines.extend(f"\t{k}: {v}" for k, v in d.labels)
            lines.append("Might cause inconsistency while recording expressions")
            print("  FAILED:", file=err)
            print("lint error " + "\n".join(lines), file=err)
        else:
            n = sum(len(g.rules) for g in groups)
            print(f"  SUCCESS: {n} rules found", file=out)
        print(file=out)
    if failed and has_errors:
        return EXIT_ERROR
    if failed and lint_fatal:
        return EXIT_LINT
    return EXIT_OK
