"""Alerting rules and the alert state machine, with Prometheus's semantics.

An alert is keyed by its label set after templating. It is pending from the
first evaluation that returns it, firing once it has been active for `for`,
kept firing for `keep_firing_for` after the expression stops returning it,
and then resolved; resolved alerts stay (and are re-sent) for 15 minutes.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from tocsin.alerting.model import Alert
from tocsin.errors import QueryError
from tocsin.promql.values import Sample
from tocsin.rules.query import RuleQuerier
from tocsin.rules.rule import LabelKey, OutSample, RuleStatus, apply_labels, label_key
from tocsin.templating.prometheus import AlertTemplateExpander, table_link

RESOLVED_RETENTION = 15 * 60.0
ALERTS = "ALERTS"
ALERTS_FOR_STATE = "ALERTS_FOR_STATE"


class AlertState(IntEnum):
    UNKNOWN = 0
    INACTIVE = 1
    PENDING = 2
    FIRING = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass
class ActiveAlert:
    """One alert of a rule. Times are Unix seconds; None means never."""

    state: AlertState
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    last_sent_at: float | None = None
    valid_until: float | None = None
    keep_firing_since: float | None = None

    def needs_sending(self, ts: float, resend_delay: float) -> bool:
        if self.state == AlertState.PENDING:
            return False
        # Resolved since the last send: send now, whatever the resend delay.
        if self.resolved_at is not None and (
            self.last_sent_at is None or self.resolved_at > self.last_sent_at
        ):
            return True
        return self.last_sent_at is None or self.last_sent_at + resend_delay < ts


class AlertingRule:
    kind = "alerting"

    def __init__(
        self,
        name: str,
        expr: str,
        hold: float,
        keep_firing_for: float,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        restored: bool = True,
    ) -> None:
        self.name = name
        self.expr = expr
        self.hold = hold
        self.keep_firing_for = keep_firing_for
        self.labels = dict(labels)
        self.annotations = dict(annotations)
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        self.restored = restored
        self.active: dict[LabelKey, ActiveAlert] = {}
        self.status = RuleStatus()
        # Remembers expansions of templates that read only $labels: a fleet
        # alert's summary is rendered once per zone, not at every evaluation.
        self._expander = AlertTemplateExpander(self.external_labels, external_url)

    # evaluation ---------------------------------------------------------------
    async def eval(
        self, ts: float, query_offset: float, querier: RuleQuerier, limit: int
    ) -> list[OutSample]:
        samples = await querier.query(self.expr, ts - query_offset)
        if querier.templates_off_loop and samples:
            # A template's `query` would wait on the network: expand in a
            # worker thread so the loop stays free to serve that request.
            fresh = await asyncio.to_thread(self._expand, samples, ts, querier)
        else:
            fresh = self._expand(samples, ts, querier)

        for key, a in fresh.items():
            old = self.active.get(key)
            if old is not None and old.state != AlertState.INACTIVE:
                old.value = a.value
                old.annotations = a.annotations
                continue
            self.active[key] = a

        out: list[OutSample] = []
        active_pending = 0
        for key, a in list(self.active.items()):
            if key not in fresh:
                keep = False
                if a.state == AlertState.FIRING and self.keep_firing_for > 0:
                    if a.keep_firing_since is None:
                        a.keep_firing_since = ts
                    keep = ts - a.keep_firing_since < self.keep_firing_for
                if a.state == AlertState.PENDING or (
                    a.resolved_at is not None and ts - a.resolved_at > RESOLVED_RETENTION
                ):
                    del self.active[key]
                if not keep:
                    if a.state != AlertState.INACTIVE:
                        a.state = AlertState.INACTIVE
                        a.resolved_at = ts
                    continue
            else:
                a.keep_firing_since = None
            active_pending += 1
            if a.state == AlertState.PENDING and ts - a.active_at >= self.hold:
                a.state = AlertState.FIRING
                a.fired_at = ts
            if a.state == AlertState.FIRING and ts - a.active_at < self.hold:
                # Only after a restore moved active_at: back to pending.
                a.state = AlertState.PENDING
                a.fired_at = None
                a.last_sent_at = None
                a.keep_firing_since = None
            if self.restored:
                out.append((self.alerts_sample_labels(a), 1.0))
                out.append((self.for_state_labels(a.labels), float(int(a.active_at))))
        if limit > 0 and active_pending > limit:
            self.active = {}
            raise QueryError(
                f"exceeded limit of {limit} with {active_pending} alerts", kind="execution"
            )
        return out

    def _expand(
        self, samples: Sequence[Sample], ts: float, querier: RuleQuerier
    ) -> dict[LabelKey, ActiveAlert]:
        """The alerts this evaluation's samples describe, templates expanded."""

        def query_fn(expr: str) -> list[object]:
            return list(querier.query_sync(expr, ts))

        fresh: dict[LabelKey, ActiveAlert] = {}
        tmpl_name = f"__alert_{self.name}"
        self._expander.query_fn = query_fn
        for s in samples:

            def expand(
                text: str, s_labels: Mapping[str, str] = s.labels, v: float = s.value
            ) -> str:
                return self._expander.expand(text, s_labels, v, ts, name=tmpl_name, errors="inline")

            base = {k: v for k, v in s.labels.items() if k != "__name__"}
            labels = apply_labels(base, {k: expand(v) for k, v in self.labels.items()})
            labels["alertname"] = self.name
            annotations = {k: expand(v) for k, v in sorted(self.annotations.items())}
            key = label_key(labels)
            if key in fresh:
                raise QueryError(
                    "vector contains metrics with the same labelset after applying alert labels",
                    kind="execution",
                )
            fresh[key] = ActiveAlert(AlertState.PENDING, labels, annotations, s.value, ts)
        return fresh

    def alerts_sample_labels(self, a: ActiveAlert) -> dict[str, str]:
        labels = {**self.labels, **a.labels}
        labels.update(__name__=ALERTS, alertname=self.name, alertstate=str(a.state))
        return labels

    def for_state_labels(self, alert_labels: Mapping[str, str]) -> dict[str, str]:
        labels = {**self.labels, **alert_labels}
        labels.update(__name__=ALERTS_FOR_STATE, alertname=self.name)
        return labels

    # state --------------------------------------------------------------------
    def state(self) -> AlertState:
        if self.status.last_evaluation is None:
            return AlertState.UNKNOWN
        return max((a.state for a in self.active.values()), default=AlertState.INACTIVE)

    def active_alerts(self) -> list[ActiveAlert]:
        """Pending and firing alerts (not the resolved ones kept for re-sending)."""
        return [copy.copy(a) for a in self.active.values() if a.resolved_at is None]

    def alerts_to_send(self, ts: float, resend_delay: float, interval: float) -> list[Alert]:
        out = []
        for a in self.active.values():
            if not a.needs_sending(ts, resend_delay):
                continue
            a.last_sent_at = ts
            a.valid_until = ts + 4 * max(interval, resend_delay)
            labels = dict(a.labels)
            for k, v in self.external_labels.items():
                labels.setdefault(k, v)
            out.append(
                Alert(
                    labels=labels,
                    annotations=dict(a.annotations),
                    starts_at=a.fired_at,
                    ends_at=a.resolved_at if a.resolved_at is not None else a.valid_until,
                    generator_url=self.external_url + table_link(self.expr),
                )
            )
        return out
