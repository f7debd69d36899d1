"""Shared test scaffolding: a sink that records, rule files from text."""

from __future__ import annotations

from collections.abc import Sequence

from tocsin.alerting.model import Alert
from tocsin.rules.loader import parse_rules
from tocsin.rules.model import GroupSpec


class RecordingSink:
    """An AlertSink that keeps every batch it was given."""

    def __init__(self) -> None:
        self.batches: list[list[Alert]] = []

    async def put(self, alerts: Sequence[Alert]) -> None:
        self.batches.append(list(alerts))

    def all(self) -> list[Alert]:
        return [a for b in self.batches for a in b]


def groups(text: str, file: str = "rules.yml") -> list[GroupSpec]:
    return parse_rules(text, file)
