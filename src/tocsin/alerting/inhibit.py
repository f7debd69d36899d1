"""Inhibition: a firing source alert mutes matching target alerts.

A target is inhibited by a rule when a firing alert matches the rule's
source matchers and has the same values for every `equal` label (a missing
label counts as the empty value, as in Alertmanager). An alert matching both
sides is never inhibited by a source that also matches the target side, so
an alert does not inhibit itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tocsin.alerting.config import AlertmanagerConfig, InhibitRuleConfig
from tocsin.alerting.matchers import format_matchers, matches_all
from tocsin.alerting.model import Alert
from tocsin.alerting.routing import format_label_set
from tocsin.tsdb.types import LabelMatcher

EqualKey = tuple[str, ...]


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[LabelMatcher, ...]
    target: tuple[LabelMatcher, ...]
    equal: tuple[str, ...] = ()
    name: str = ""

    @classmethod
    def from_config(cls, cfg: InhibitRuleConfig) -> InhibitRule:
        return cls(tuple(cfg.source()), tuple(cfg.target()), tuple(cfg.equal), cfg.name)

    def equal_key(self, labels: Mapping[str, str]) -> EqualKey:
        return tuple(labels.get(n, "") for n in self.equal)

    def describe(self) -> str:
        text = f"source {format_matchers(self.source)} target {format_matchers(self.target)}"
        if self.equal:
            text += " equal [" + ", ".join(self.equal) + "]"
        return f"{self.name}: {text}" if self.name else text


class Inhibitor:
    """Answers "is this alert inhibited?" against the current firing alerts.

    Call `set_firing` whenever the set of firing alerts changes; lookups are
    an index probe per rule, not a scan of all alerts.
    """

    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self.rules = list(rules)
        self._sources: list[dict[EqualKey, list[Mapping[str, str]]]] = [{} for _ in self.rules]

    @classmethod
    def from_config(cls, cfg: AlertmanagerConfig) -> Inhibitor:
        return cls([InhibitRule.from_config(r) for r in cfg.inhibit_rules])

    def set_firing(self, firing: Iterable[Mapping[str, str]]) -> None:
        """Replace the firing alerts (their label sets) that may act as sources."""
        index: list[dict[EqualKey, list[Mapping[str, str]]]] = [{} for _ in self.rules]
        for labels in firing:
            for rule, by_key in zip(self.rules, index, strict=True):
                if matches_all(rule.source, labels):
                    by_key.setdefault(rule.equal_key(labels), []).append(labels)
        self._sources = index

    def set_alerts(self, alerts: Iterable[Alert], now: float) -> None:
        """Like set_firing, from alerts: those resolved at `now` are not sources."""
        self.set_firing(a.labels for a in alerts if a.ends_at is None or a.ends_at > now)

    def is_inhibited(self, labels: Mapping[str, str]) -> tuple[bool, str]:
        """(True, reason naming the source alert and rule) or (False, "")."""
        for rule, by_key in zip(self.rules, self._sources, strict=True):
            if not matches_all(rule.target, labels):
                continue
            candidates = by_key.get(rule.equal_key(labels))
            if not candidates:
                continue
            both_sides = matches_all(rule.source, labels)
            for src in candidates:
                if both_sides and matches_all(rule.target, src):
                    continue
                return True, f"inhibited by {format_label_set(src)} (rule {rule.describe()})"
        return False, ""

    def inhibiting_sources(self, labels: Mapping[str, str]) -> list[Mapping[str, str]]:
        """Label sets of every firing alert that inhibits `labels` (for the API's
        `inhibitedBy`)."""
        found: list[Mapping[str, str]] = []
        for rule, by_key in zip(self.rules, self._sources, strict=True):
            if not matches_all(rule.target, labels):
                continue
            both_sides = matches_all(rule.source, labels)
            for src in by_key.get(rule.equal_key(labels), ()):
                if not (both_sides and matches_all(rule.target, src)):
                    found.append(src)
        return found

    def mutes(self, labels: Mapping[str, str], now: float) -> str | None:
        hit, reason = self.is_inhibited(labels)
        return reason if hit else None
