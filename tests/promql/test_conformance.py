"""Run every promqltest script of the conformance data against tocsin's engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import CONFORMANCE, conformance_dir
from tocsin.promql.promqltest import FAILED, PASSED, Runner

SKIPLIST = yaml.safe_load((Path(__file__).parent / "skiplist.yml").read_text())
SKIPPED_FILES: dict[str, str] = {f["file"]: f["reason"] for f in SKIPLIST["files"]}
SKIPPED_CASES: dict[tuple[str, int], dict[str, Any]] = {
    (c["file"], c["line"]): c for c in SKIPLIST["cases"]
}

FILES = sorted(p.name for p in (CONFORMANCE / "promqltest").glob("*.test"))


def test_skiplist_names_existing_files() -> None:
    assert FILES, "no promqltest files found"
    for name in {*SKIPPED_FILES, *(f for f, _ in SKIPPED_CASES)}:
        assert name in FILES, f"skiplist names unknown file {name}"
    for case in SKIPLIST["cases"]:
        assert case.get("reason"), f"skiplist entry without reason: {case}"


@pytest.mark.parametrize("name", FILES)
def test_promqltest_file(name: str) -> None:
    path = conformance_dir("promqltest", name)
    if name in SKIPPED_FILES:
        pytest.skip(SKIPPED_FILES[name])
    results = Runner().run_file(path)
    assert results, f"{name}: no eval cases found"
    problems = []
    for r in results:
        listed = SKIPPED_CASES.get((name, r.line))
        if listed is not None and listed["query"] != r.query:
            problems.append(f"{name}:{r.line}: skiplist query {listed['query']!r} != {r.query!r}")
        elif r.status == PASSED and listed is not None:
            problems.append(f"{name}:{r.line}: passes now, remove it from skiplist.yml")
        elif r.status != PASSED and listed is None:
            kind = "FAILED" if r.status == FAILED else "skipped but not listed"
            problems.append(f"{name}:{r.line}: {kind}: {r.query}\n    {r.message}")
    assert not problems, "\n".join(problems)
