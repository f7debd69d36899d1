"""A rule group: its rules evaluated in order at one timestamp.

Each rule's output is appended to storage before the next rule runs, so later
rules (and `ALERTS` queries) in the same group see it at the same timestamp.
Series a rule produced last time but not this time get a staleness marker.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Mapping, Sequence

from tocsin.alerting.model import Alert
from tocsin.errors import TocsinError
from tocsin.rules.alerting import AlertingRule
from tocsin.rules.model import GroupSpec
from tocsin.rules.query import RuleQuerier
from tocsin.rules.recording import RecordingRule
from tocsin.rules.rule import LabelKey, OutSample, label_key
from tocsin.tsdb.types import STALE_NAN, Appender

log = logging.getLogger(__name__)

Rule = RecordingRule | AlertingRule


def build_rules(
    spec: GroupSpec,
    external_labels: Mapping[str, str],
    external_url: str,
    restored: bool,
) -> list[Rule]:
    rules: list[Rule] = []
    for r in spec.rules:
        labels = {**spec.labels, **r.labels}
        if r.alert:
            rules.append(
                AlertingRule(
                    r.alert,
                    r.expr,
                    r.for_,
                    r.keep_firing_for,
                    labels,
                    r.annotations,
                    external_labels,
                    external_url,
                    restored=restored,
                )
            )
        else:
            rules.append(RecordingRule(r.record, r.expr, labels))
    return rules


class Group:
    """A loaded rule group and its evaluation state."""

    def __init__(
        self,
        spec: GroupSpec,
        rules: list[Rule],
        interval: float,
        querier: RuleQuerier,
        appender: Appender,
        *,
        should_restore: bool = False,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.file = spec.file
        self.rules = rules
        self.interval = interval
        self.query_offset = spec.query_offset or 0.0
        self.limit = spec.limit
        self.querier = querier
        self.appender = appender
        self.should_restore = should_restore
        self.evaluations = 0
        self.last_evaluation: float | None = None  # wall clock of the last run
        self.last_eval_timestamp: float | None = None  # the evaluated timestamp
        self.evaluation_seconds = 0.0
        self._previous: list[dict[LabelKey, dict[str, str]]] = [{} for _ in rules]
        self._stale: list[dict[str, str]] = []

    @property
    def key(self) -> str:
        return self.spec.key

    def eval_timestamp(self, now: float) -> float:
        """The latest aligned evaluation time <= now.

        Groups are spread over the interval by a stable hash of their key, as
        Prometheus does, so that all groups do not evaluate at the same instant.
        """
        iv_ms = max(1, round(self.interval * 1000))
        digest = hashlib.sha256(self.key.encode()).digest()
        offset = int.from_bytes(digest[:8], "big") % iv_ms
        now_ms = math.floor(now * 1000)
        adj = now_ms - offset
        return (adj - adj % iv_ms + offset) / 1000

    async def eval(
        self, ts: float, resend_delay: float = 60.0, wall_now: float | None = None
    ) -> list[Alert]:
        """Evaluate every rule at `ts`; returns the alerts due to be sent."""
        started = time.perf_counter()
        to_send: list[Alert] = []
        t_ms = round((ts - self.query_offset) * 1000)
        for i, rule in enumerate(self.rules):
            rule_start = time.perf_counter()
            try:
                out = await rule.eval(ts, self.query_offset, self.querier, self.limit)
            except TocsinError as exc:
                rule.status.fail(str(exc))
                out = None
            except Exception as exc:  # a rule must never stop its group
                log.exception("rule %s in group %s failed", rule.name, self.name)
                rule.status.fail(f"internal error: {exc}")
                out = None
            else:
                rule.status.ok()
                if isinstance(rule, AlertingRule):
                    to_send.extend(rule.alerts_to_send(ts, resend_delay, self.interval))
            if out is not None:
                self._write(i, out, t_ms)
            rule.status.evaluation_seconds = time.perf_counter() - rule_start
            rule.status.last_evaluation = wall_now if wall_now is not None else ts
        if self._stale:
            self._append([(s, STALE_NAN) for s in self._stale], t_ms)
            self._stale = []
        self.evaluations += 1
        self.last_eval_timestamp = ts
        self.last_evaluation = wall_now if wall_now is not None else ts
        self.evaluation_seconds = time.perf_counter() - started
        return to_send

    def _write(self, i: int, out: list[OutSample], t_ms: int) -> None:
        returned = {label_key(labels): labels for labels, _ in out}
        gone = [(labels, STALE_NAN) for k, labels in self._previous[i].items() if k not in returned]
        self._append(out + gone, t_ms)
        self._previous[i] = returned

    def _append(self, samples: Sequence[OutSample], t_ms: int) -> None:
        batch = getattr(self.appender, "append_batch", None)
        if batch is not None and samples:
            batch([s[0] for s in samples], t_ms, [s[1] for s in samples])
            return
        for labels, value in samples:
            self.appender.append(labels, t_ms, value)

    def mark_all_stale(self) -> None:
        """Queue markers for everything this group wrote (it is being removed)."""
        for prev in self._previous:
            self._stale.extend(prev.values())
        self._previous = [{} for _ in self.rules]

    def flush_stale(self, ts: float) -> None:
        if self._stale:
            self._append([(s, STALE_NAN) for s in self._stale], round(ts * 1000))
            self._stale = []

    def copy_state(self, old: Group) -> None:
        """Take over alert state and written series from the previous version of this group."""
        self.evaluation_seconds = old.evaluation_seconds
        self.last_evaluation = old.last_evaluation
        self.last_eval_timestamp = old.last_eval_timestamp
        by_name: dict[tuple[str, LabelKey], list[int]] = {}
        for j, r in enumerate(old.rules):
            by_name.setdefault((r.name, label_key(r.labels)), []).append(j)
        for i, r in enumerate(self.rules):
            idx = by_name.get((r.name, label_key(r.labels)))
            if not idx:
                continue
            j = idx.pop(0)
            self._previous[i] = old._previous[j]
            o = old.rules[j]
            if isinstance(r, AlertingRule) and isinstance(o, AlertingRule):
                r.active.update(o.active)
        self._stale = list(old._stale)
        for idx in by_name.values():
            for j in idx:
                self._stale.extend(old._previous[j].values())
