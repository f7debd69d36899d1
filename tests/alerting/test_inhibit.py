from __future__ import annotations

import pytest

from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.inhibit import Inhibitor, InhibitRule
from tocsin.alerting.matchers import parse_matchers
from tocsin.alerting.model import Alert


def rule(source: str, target: str, equal: tuple[str, ...] = ()) -> InhibitRule:
    return InhibitRule(tuple(parse_matchers(source)), tuple(parse_matchers(target)), equal)


ZONE_RULE = rule('alertname="VenueDown"', 'alertname="ZoneDown"', ("venue",))
SEVERITY_RULE = rule('severity="critical"', 'severity="warning"', ("alertname",))
BOTH_SIDES = rule('severity=~"critical|warning"', 'severity=~"warning|info"', ("alertname",))

CASES = [
    # name, rules, firing, target, inhibited?
    (
        "same venue",
        [ZONE_RULE],
        [{"alertname": "VenueDown", "venue": "v1"}],
        {"alertname": "ZoneDown", "venue": "v1", "zone": "z1"},
        True,
    ),
    (
        "other venue",
        [ZONE_RULE],
        [{"alertname": "VenueDown", "venue": "v2"}],
        {"alertname": "ZoneDown", "venue": "v1"},
        False,
    ),
    (
        "equal label missing on both sides counts as equal",
        [ZONE_RULE],
        [{"alertname": "VenueDown"}],
        {"alertname": "ZoneDown"},
        True,
    ),
    (
        "missing on one side equals empty on the other",
        [ZONE_RULE],
        [{"alertname": "VenueDown", "venue": ""}],
        {"alertname": "ZoneDown"},
        True,
    ),
    (
        "missing vs set differ",
        [ZONE_RULE],
        [{"alertname": "VenueDown"}],
        {"alertname": "ZoneDown", "venue": "v1"},
        False,
    ),
    ("no source firing", [ZONE_RULE], [], {"alertname": "ZoneDown"}, False),
    (
        "target does not match",
        [SEVERITY_RULE],
        [{"alertname": "A", "severity": "critical"}],
        {"alertname": "A", "severity": "info"},
        False,
    ),
    (
        "second rule inhibits",
        [ZONE_RULE, SEVERITY_RULE],
        [{"alertname": "A", "severity": "critical"}],
        {"alertname": "A", "severity": "warning"},
        True,
    ),
    (
        "an alert on both sides does not inhibit itself",
        [BOTH_SIDES],
        [{"alertname": "A", "severity": "warning"}],
        {"alertname": "A", "severity": "warning"},
        False,
    ),
    (
        "both-sides target inhibited by a source-only alert",
        [BOTH_SIDES],
        [{"alertname": "A", "severity": "warning"}, {"alertname": "A", "severity": "critical"}],
        {"alertname": "A", "severity": "warning"},
        True,
    ),
    (
        "source-only target is inhibited by a both-sides source",
        [BOTH_SIDES],
        [{"alertname": "A", "severity": "warning"}],
        {"alertname": "A", "severity": "info"},
        True,
    ),
]


@pytest.mark.parametrize(
    ("rules", "firing", "target", "inhibited"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_inhibition(
    rules: list[InhibitRule],
    firing: list[dict[str, str]],
    target: dict[str, str],
    inhibited: bool,
) -> None:
    inh = Inhibitor(rules)
    inh.set_firing(firing)
    hit, reason = inh.is_inhibited(target)
    assert hit is inhibited
    assert (reason != "") is inhibited
    assert (inh.mutes(target, 0.0) is not None) is inhibited


def test_reason_names_source_and_rule() -> None:
    inh = Inhibitor([ZONE_RULE])
    inh.set_firing([{"alertname": "VenueDown", "venue": "v1"}])
    _, reason = inh.is_inhibited({"alertname": "ZoneDown", "venue": "v1"})
    assert 'alertname="VenueDown", venue="v1"' in reason
    assert "equal [venue]" in reason


def test_firing_set_is_replaced() -> None:
    inh = Inhibitor([ZONE_RULE])
    inh.set_firing([{"alertname": "VenueDown", "venue": "v1"}])
    inh.set_firing([])
    assert inh.is_inhibited({"alertname": "ZoneDown", "venue": "v1"}) == (False, "")


def test_from_config_combines_legacy_and_new_matchers() -> None:
    cfg = parse_alertmanager_config(
        """
route: {receiver: a}
receivers: [{name: a}]
inhibit_rules:
  - source_match: {severity: critical}
    source_matchers: ['team="db"']
    target_match_re: {severity: 'warn.*'}
    equal: [alertname]
"""
    )
    inh = Inhibitor.from_config(cfg)
    inh.set_firing([{"alertname": "X", "severity": "critical", "team": "db"}])
    assert inh.is_inhibited({"alertname": "X", "severity": "warning"})[0]
    inh.set_firing([{"alertname": "X", "severity": "critical", "team": "web"}])
    assert not inh.is_inhibited({"alertname": "X", "severity": "warning"})[0]


def test_resolved_alerts_are_not_sources() -> None:
    inh = Inhibitor([ZONE_RULE])
    source = {"alertname": "VenueDown", "venue": "v1"}
    target = {"alertname": "ZoneDown", "venue": "v1"}
    for ends_at, inhibited in [(None, True), (2000.0, True), (1000.0, False), (500.0, False)]:
        inh.set_alerts([Alert(labels=source, ends_at=ends_at)], now=1000.0)
        assert inh.is_inhibited(target)[0] is inhibited, ends_at
