"""Ground truth: every real outage and every API fault window, as JSONL.

Zone outages carry the zone id in `target`; API faults (5xx, timeouts, slow,
malformed or truncated JSON, stale data) carry `target: null`, so a scorer can
tell "the zone was down" from "the API misbehaved".
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import IO, Any, TypedDict

import orjson


class TruthRecord(TypedDict):
    target: str | None
    kind: str
    start: float
    end: float | None
    venue: str | None
    fault: str | None


def truth_record(
    target: str | None,
    kind: str,
    start: float,
    end: float | None,
    *,
    venue: str | None = None,
    fault: str | None = None,
) -> TruthRecord:
    return {
        "target": target,
        "kind": kind,
        "start": start,
        "end": end,
        "venue": venue,
        "fault": fault,
    }


class TruthLog:
    """Closed records appended to a JSONL file as they close, and kept in memory.

    Memory keeps the newest `memory_limit` records (a long run with many
    flapping zones closes millions); the file always has them all.
    """

    def __init__(self, path: Path | None = None, memory_limit: int = 1_000_000) -> None:
        self.path = path
        self.closed: deque[TruthRecord] = deque(maxlen=memory_limit)
        self.written = 0
        self._file: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("wb")

    def write(self, record: TruthRecord) -> None:
        self.closed.append(record)
        self.written += 1
        self._emit(record)

    def _emit(self, record: TruthRecord | dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(orjson.dumps(record) + b"\n")
            # Flushed per line: a scorer may tail the file while the simulator runs.
            self._file.flush()

    def close(self, still_open: list[TruthRecord]) -> None:
        """Write outages still open (end null) and close the file."""
        for record in still_open:
            self._emit(record)
        if self._file is not None:
            self._file.close()
            self._file = None


def read_truth(path: str | Path) -> list[TruthRecord]:
    """Load a ground-truth JSONL file (for scorers and tests)."""
    out: list[TruthRecord] = []
    with Path(path).open("rb") as f:
        for line in f:
            if line.strip():
                out.append(orjson.loads(line))
    return out
