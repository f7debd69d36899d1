"""Recording rules: store an expression's result under a new metric name."""

from __future__ import annotations

from collections.abc import Mapping

from tocsin.errors import QueryError
from tocsin.rules.query import RuleQuerier
from tocsin.rules.rule import OutSample, RuleStatus, apply_labels, label_key


class RecordingRule:
    kind = "recording"

    def __init__(self, name: str, expr: str, labels: Mapping[str, str]) -> None:
        self.name = name
        self.expr = expr
        self.labels = dict(labels)
        self.status = RuleStatus()

    async def eval(
        self, ts: float, query_offset: float, querier: RuleQuerier, limit: int
    ) -> list[OutSample]:
        samples = await querier.query(self.expr, ts - query_offset)
        out: list[OutSample] = []
        seen = set()
        for s in samples:
            labels = apply_labels({**s.labels, "__name__": self.name}, self.labels)
            key = label_key(labels)
            if key in seen:
                raise QueryError(
                    "vector contains metrics with the same labelset after applying rule labels",
                    kind="execution",
                )
            seen.add(key)
            out.append((labels, s.value))
        if limit > 0 and len(out) > limit:
            raise QueryError(f"exceeded limit of {limit} with {len(out)} series", kind="execution")
        return out
