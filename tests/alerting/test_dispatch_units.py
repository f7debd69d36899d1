"""Pure pieces of the pipeline: identity, merging, validation, dedup, flap hold, digests."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.alerting.dedup import needs_update
from tocsin.alerting.digest import DigestSchedule
from tocsin.alerting.extensions import DigestConfig, parse_extensions
from tocsin.alerting.flapping import FlapTracker
from tocsin.alerting.model import Alert
from tocsin.alerting.nflog import LogEntry
from tocsin.alerting.store import (
    ActiveAlerts,
    AlertValidationError,
    StoredAlert,
    accept,
    complete,
    fingerprint,
    merge,
    notification_order,
    validate,
)
from tocsin.errors import ConfigError


def test_fingerprint_depends_on_labels_only() -> None:
    a = fingerprint({"a": "1", "b": "2"})
    assert a == fingerprint({"b": "2", "a": "1"})
    assert len(a) == 16
    assert int(a, 16) >= 0
    assert a != fingerprint({"a": "1", "b": "3"})
    # The separator keeps name/value boundaries apart.
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})


@pytest.mark.parametrize(
    ("alert", "reason"),
    [
        (Alert(labels={}), "at least one label pair required"),
        (Alert(labels={"a": ""}), "at least one label pair required"),
        (Alert(labels={"": "x"}), "invalid name ''"),
        (Alert(labels={"a": "x"}, annotations={"": "y"}), "invalid annotations"),
        (Alert(labels={"a": "x"}, starts_at=10.0, ends_at=5.0), "start time must be before end"),
        (Alert(labels={"a": "x"}, starts_at=float("nan")), "start time is not a finite number"),
    ],
)
def test_validation_names_the_problem(alert: Alert, reason: str) -> None:
    with pytest.raises(AlertValidationError, match=reason):
        validate(alert)


def test_complete_fills_times_and_marks_timeout() -> None:
    s = complete(Alert(labels={"a": "1"}), now=100.0, resolve_timeout=300.0)
    assert (s.starts_at, s.ends_at, s.timeout, s.updated_at) == (100.0, 400.0, True, 100.0)
    s = complete(Alert(labels={"a": "1"}, starts_at=50.0, ends_at=90.0), 100.0, 300.0)
    assert (s.starts_at, s.ends_at, s.timeout) == (50.0, 90.0, False)
    # A resolve without a start starts when it ends; empty labels are dropped.
    s = complete(Alert(labels={"a": "1", "b": ""}, ends_at=90.0), 100.0, 300.0)
    assert (s.starts_at, s.ends_at, dict(s.labels)) == (90.0, 90.0, {"a": "1"})
    # A future start within resolve_timeout keeps the derived end ...
    s = complete(Alert(labels={"a": "1"}, starts_at=400.0), 100.0, 300.0)
    assert (s.starts_at, s.ends_at, s.timeout) == (400.0, 400.0, True)
    # ... one further ahead ends before it starts: refused, as Alertmanager does.
    with pytest.raises(AlertValidationError, match="start time must be before end time"):
        accept(Alert(labels={"a": "1"}, starts_at=401.0), 100.0, 300.0)


def test_notification_order_is_alertmanagers() -> None:
    def mk(**labels: str) -> StoredAlert:
        return complete(Alert(labels=labels), 0.0, 1.0)

    alerts = [
        mk(x="1"),
        mk(job="b"),
        mk(job="a", instance="2"),
        mk(job="a", instance="1"),
        mk(a="0"),
    ]
    ordered = [dict(a.labels) for a in sorted(alerts, key=notification_order)]
    assert ordered == [
        {"job": "a", "instance": "1"},
        {"job": "a", "instance": "2"},
        {"job": "b"},
        {"a": "0"},
        {"x": "1"},
    ]


def _stored(starts: float, ends: float, updated: float, timeout: bool = False) -> StoredAlert:
    return complete(
        Alert(labels={"a": "1"}, starts_at=starts, ends_at=None if timeout else ends),
        now=updated,
        resolve_timeout=ends - updated,
    )


MERGES = [
    # (old, new, now) -> (starts, ends)
    ("earliest start kept", _stored(10, 500, 20), _stored(30, 600, 40), 50, (10, 600)),
    (
        "explicit later end beats a derived one",
        _stored(10, 900, 20),
        _stored(10, 400, 40, timeout=True),
        50,
        (10, 900),
    ),
    (
        "a derived end does not extend past the newer end",
        _stored(10, 900, 20, timeout=True),
        _stored(10, 400, 40),
        50,
        (10, 400),
    ),
    ("later resolve wins among resolved", _stored(10, 45, 20), _stored(10, 30, 40), 50, (10, 45)),
    (
        "older update merged the other way",
        _stored(30, 600, 40),
        _stored(10, 500, 20),
        50,
        (10, 600),
    ),
]


@pytest.mark.parametrize(("why", "old", "new", "now", "want"), MERGES, ids=[m[0] for m in MERGES])
def test_merge(
    why: str, old: StoredAlert, new: StoredAlert, now: float, want: tuple[float, float]
) -> None:
    got = merge(old, new, now)
    assert (got.starts_at, got.ends_at) == want


def test_active_alerts_replace_when_not_overlapping() -> None:
    store = ActiveAlerts()
    first = _stored(10, 20, 10)
    _, changes = store.upsert(first, now=10)
    assert [(c.old_state, c.new_state) for c in changes] == [("", "firing")]
    # It fires again long after it resolved: a new episode, not a merge.
    again = _stored(100, 400, 100)
    kept, changes = store.upsert(again, now=100)
    assert kept.starts_at == 100
    assert [(c.old_state, c.new_state) for c in changes] == [("resolved", "firing")]
    resolved = replace(again, ends_at=150, updated_at=150, timeout=False)
    kept, changes = store.upsert(resolved, now=150)
    assert (kept.starts_at, kept.ends_at) == (100, 150)
    assert [(c.old_state, c.new_state) for c in changes] == [("firing", "resolved")]
    assert store.upsert(resolved, now=160)[1] == []


def test_a_timeout_resolution_is_recorded_when_the_alert_returns() -> None:
    store = ActiveAlerts()
    store.upsert(_stored(10, 310, 10, timeout=True), now=10)
    _, changes = store.upsert(_stored(500, 800, 500), now=500)
    assert [(c.old_state, c.new_state, c.at) for c in changes] == [
        ("firing", "resolved", 310),
        ("resolved", "firing", None),
    ]


def _entry(firing: set[str], resolved: set[str], at: float) -> LogEntry:
    return LogEntry("g", "r", "i", frozenset(firing), frozenset(resolved), at, at + 1e6)


DEDUP = [
    # entry, firing, resolved, send_resolved, now -> notify
    ("nothing sent, something fires", None, {"a"}, set(), True, 0, True),
    ("nothing sent, nothing fires", None, set(), {"a"}, True, 0, False),
    ("a new alert fires", _entry({"a"}, set(), 0), {"a", "b"}, set(), True, 10, True),
    ("same firing set, before repeat", _entry({"a"}, set(), 0), {"a"}, set(), True, 10, False),
    ("same firing set, at repeat", _entry({"a"}, set(), 0), {"a"}, set(), True, 100, True),
    ("firing shrank, resolved sent", _entry({"a", "b"}, set(), 0), {"a"}, {"b"}, True, 10, True),
    (
        "firing shrank, no send_resolved",
        _entry({"a", "b"}, set(), 0),
        {"a"},
        {"b"},
        False,
        10,
        False,
    ),
    ("all resolved", _entry({"a"}, set(), 0), set(), {"a"}, False, 10, True),
    ("resolution already sent", _entry(set(), {"a"}, 0), set(), {"a"}, True, 1000, False),
    ("resolved already known", _entry({"a"}, {"b"}, 0), {"a"}, {"b"}, True, 10, False),
]


@pytest.mark.parametrize(
    ("why", "entry", "firing", "resolved", "send_resolved", "now", "want"),
    DEDUP,
    ids=[d[0] for d in DEDUP],
)
def test_dedup_decision(
    why: str,
    entry: LogEntry | None,
    firing: set[str],
    resolved: set[str],
    send_resolved: bool,
    now: float,
    want: bool,
) -> None:
    d = needs_update(
        entry,
        frozenset(firing),
        frozenset(resolved),
        send_resolved=send_resolved,
        repeat_interval=100.0,
        now=now,
    )
    assert d.notify is want
    assert d.reason


def test_flap_tracker_announces_once_then_holds() -> None:
    tracker = FlapTracker(transitions=2, window=100.0)
    alert = _stored(0, 1000, 0)
    for t in (10.0, 20.0, 30.0):
        tracker.record(alert.fingerprint, t)
    out, changed, announce = tracker.hold([alert], 40.0)
    assert [a.annotations.get("flapping") for a in out] == ["true"]
    assert changed
    assert announce
    out, changed, announce = tracker.hold([alert], 50.0)
    assert out == []
    assert not changed
    assert not announce
    # Calm again once the changes leave the window.
    out, changed, announce = tracker.hold([alert], 130.0)
    assert out == [alert]
    assert changed
    assert not announce


def test_source_flap_flag_counts_as_flapping() -> None:
    tracker = FlapTracker(transitions=5, window=100.0)
    alert = replace(_stored(0, 1000, 0), annotations={"tocsin_flapping": "true"})
    assert tracker.is_flapping(alert, 0.0)


def test_digest_schedule_keeps_wall_time_across_dst() -> None:
    sched = DigestSchedule(DigestConfig(cron="0 8 * * *", timezone="Europe/Stockholm"))
    # 2026-03-28 12:00 UTC; clocks go forward on the 29th.
    t = sched.next_after(1774699200.0)
    t2 = sched.next_after(t)
    assert t == 1774764000.0  # 2026-03-29 06:00 UTC = 08:00 CEST
    assert t2 - t == 86400.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"receivers": {"x": {"digest": {"cron": "61 * * * *"}}}}, "invalid cron"),
        ({"receivers": {"x": {"digest": {"cron": "0 8 * * *", "timezone": "Mars/Base"}}}}, "zone"),
        ({"receivers": {"x": {"notify_resolved_when_silence": True}}}, "notify_resolved"),
        ({"flap_hold": {"transitions": 0}}, "transitions"),
        ({"receivers": {"x": {"rate_limit": {"per_second": 0}}}}, "per_second"),
        ({"receivers": {"x": {"rate_limit": {"per_second": 1, "burst": 0}}}}, "burst"),
    ],
)
def test_extension_errors_name_the_field(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_extensions(data)


def test_notification_log_lookups_and_expiry() -> None:
    from tocsin.alerting.nflog import NotificationLog

    log = NotificationLog(retention=100.0)
    log.log("g", "r", "slack[0]", {"a"}, set(), now=0.0)
    log.log("g", "r", "webhook[0]", {"a"}, set(), now=50.0)
    log.log("g", "other", "webhook[0]", set(), {"a"}, now=0.0)
    assert sorted(e.integration for e in log.for_receiver("g", "r")) == ["slack[0]", "webhook[0]"]
    expired = log.gc(now=100.0)
    assert sorted(expired) == [("g", "other", "webhook[0]"), ("g", "r", "slack[0]")]
    assert [e.integration for e in log.for_receiver("g", "r")] == ["webhook[0]"]
    assert log.for_receiver("g", "other") == []
    assert len(log) == 1


_NAMES = st.sampled_from(["", "a", "b", "alertname"])
_VALUES = st.one_of(st.sampled_from(["", "x", "é"]), st.integers(0, 1))
_TIMES = st.one_of(
    st.none(),
    st.sampled_from([50.0, 100.0, 150.0, float("nan"), float("inf")]),
)


@settings(max_examples=300, deadline=None)
@given(
    labels=st.dictionaries(_NAMES, _VALUES, max_size=3),
    annotations=st.dictionaries(_NAMES, st.just("v"), max_size=2),
    starts=_TIMES,
    ends=_TIMES,
)
def test_accept_is_validate_then_complete(
    labels: dict[str, str], annotations: dict[str, str], starts: float | None, ends: float | None
) -> None:
    alert = Alert(labels=labels, annotations=annotations, starts_at=starts, ends_at=ends)
    want: StoredAlert | str
    try:
        validate(alert)
        want = complete(alert, 100.0, 300.0)
    except AlertValidationError as exc:
        want = str(exc)
    got: StoredAlert | str
    try:
        got = accept(alert, 100.0, 300.0)
    except AlertValidationError as exc:
        got = str(exc)
    assert got == want


def test_accepted_alert_does_not_share_the_senders_dicts() -> None:
    labels, annotations = {"a": "1"}, {"summary": "s"}
    stored = accept(Alert(labels=labels, annotations=annotations), 100.0, 300.0)
    labels["a"] = "2"
    annotations["summary"] = "changed"
    assert (dict(stored.labels), dict(stored.annotations)) == ({"a": "1"}, {"summary": "s"})
    assert stored.fingerprint == fingerprint({"a": "1"})
