"""The dispatcher end to end on a virtual clock: history, reload, flap hold, persistence."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.alerting.acceptance.harness import Harness
from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.dispatcher import AlertsRejected, AlertStatus
from tocsin.alerting.extensions import AlertingExtensions
from tocsin.alerting.model import Alert
from tocsin.alerting.store import fingerprint
from tocsin.clock import FakeClock
from tocsin.storage import Store

CFG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: [severity="page"]
      receiver: pager
receivers: [{name: team}, {name: pager}]
"""


async def test_notification_carries_alertmanager_data(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    await h.start()
    await h.push(
        h.alert("Down", ends=1000, venue="v1", zone="z1"),
        h.alert("Down", ends=1000, venue="v1", zone="z2"),
    )
    await h.run_until(31)
    await h.stop()
    [sent] = h.sent
    n = sent.notification
    assert n.receiver == "team"
    assert n.group_key == '{}:{alertname="Down"}'
    assert dict(n.group_labels) == {"alertname": "Down"}
    assert dict(n.common_labels) == {"alertname": "Down", "venue": "v1"}
    assert [a.ends_at for a in n.alerts] == [None, None]  # firing: no end yet
    assert {a.fingerprint for a in n.alerts} == {
        fingerprint({"alertname": "Down", "venue": "v1", "zone": z}) for z in ("z1", "z2")
    }


async def test_invalid_alerts_are_rejected_and_valid_ones_kept(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    await h.start()
    with pytest.raises(AlertsRejected, match="at least one label pair required") as info:
        await h.dispatcher.put([Alert(labels={}), h.alert("Ok")])
    assert len(info.value.errors) == 1
    assert [a.labels["alertname"] for a in h.dispatcher.alerts] == ["Ok"]
    await h.stop()


async def test_history_of_state_changes_and_notifications(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    await h.start()
    await h.push(h.alert("A", ends=1000))
    await h.run_until(100)
    await h.push(h.alert("A", starts=1, ends=h.now))
    await h.run_until(400)
    await h.stop()
    fp = fingerprint({"alertname": "A"})
    rows = h.dispatcher.state.alert_history(fingerprint=fp)
    assert [(r.old_state, r.new_state) for r in rows] == [("firing", "resolved"), ("", "firing")]
    assert h.dispatcher.state.alert_history(fingerprint=fp, since=h.t0 + 50, limit=5)[0].at == (
        h.t0 + 100
    )
    notes = h.dispatcher.state.notifications(receiver="team")
    assert [(n.status, n.reason, n.ok) for n in notes] == [
        ("resolved", "all alerts resolved", True),
        ("firing", "first notification for this group", True),
    ]
    assert notes[1].firing == (fp,)
    attempts = h.dispatcher.state.attempts(receiver="team")
    assert len(attempts) == 2
    assert all(a["ok"] and a["final"] for a in attempts)


async def test_failed_deliveries_are_recorded(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    await h.start()
    h.recorders["team"].failures = 1000
    await h.push(h.alert("A", ends=10_000))
    await h.run_until(400)
    await h.stop()
    assert h.sent == []
    notes = h.dispatcher.state.notifications()
    assert notes
    assert not notes[-1].ok
    assert "scripted failure" in notes[-1].error
    attempts = h.dispatcher.state.attempts()
    assert any(a["final"] and not a["ok"] for a in attempts)
    # Still not delivered, so still in the group for the next flush.
    assert len(h.dispatcher.groups) == 1


async def test_reload_regroups_without_resending(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    await h.start()
    await h.push(h.alert("A", ends=10_000, severity="page"))
    await h.run_until(31)
    assert [s.receiver for s in h.sent] == ["team"] or [s.receiver for s in h.sent] == ["pager"]
    before = len(h.sent)
    # Same tree, new timings: the group is rebuilt, the log prevents a resend.
    h.dispatcher.apply_config(parse_alertmanager_config(CFG.replace("5m", "2m")))
    await h.run_until(200)
    assert len(h.sent) == before
    # A new route for `page` alerts to `team` instead: a new group, a new notification.
    h.dispatcher.apply_config(
        parse_alertmanager_config(CFG.replace("receiver: pager\n", "receiver: team\n"))
    )
    await h.run_until(400)
    await h.stop()
    assert [s.receiver for s in h.sent[before:]] == ["team"]


async def test_flapping_alert_is_announced_once_then_held(clock: FakeClock) -> None:
    ext = AlertingExtensions.model_validate({"flap_hold": {"transitions": 2, "window": "1h"}})
    h = Harness(CFG, clock, extensions=ext)
    await h.start()
    await h.push(h.alert("A", ends=100_000))
    await h.run_until(40)
    for t in (60, 120, 180, 240):
        await h.run_until(t)
        if t in (60, 180):
            await h.push(h.alert("A", starts=1, ends=h.now))
        else:
            await h.push(h.alert("A", starts=h.now, ends=100_000))
    await h.run_until(4000)
    await h.stop()
    marks = [(s.at, s.firing, s.notification.alerts[0].annotations.get("flapping")) for s in h.sent]
    assert marks == [
        (30.0, ["A"], None),
        (330.0, ["A"], "true"),
        # Calm again (the changes left the 1h window): normal repeat.
        (3930.0, ["A"], None),
    ]


async def test_restart_restores_silences_and_schedule(clock: FakeClock, tmp_path: Path) -> None:
    h = Harness(CFG, clock, db_path=tmp_path / "s.db")
    await h.start()
    from tocsin.alerting.matchers import parse_matchers

    h.dispatcher.silences.add(parse_matchers('alertname="B"'), clock.now() + 3600)
    h.dispatcher.save_silences()
    await h.push(h.alert("A", ends=10_000), h.alert("B", ends=10_000))
    await h.run_until(10)
    await h.restart()
    assert len(h.dispatcher.silences) == 1
    assert h.dispatcher.next_due() == h.t0 + 30
    await h.run_until(100)
    await h.stop()
    assert [(s.at, s.firing) for s in h.sent] == [(30.0, ["A"])]


@pytest.mark.skipif(
    os.environ.get("TOCSIN_SKIP_POSTGRES") == "1", reason="PostgreSQL tests switched off"
)
async def test_restart_on_postgresql(clock: FakeClock) -> None:
    schema = f"t_alerting_{uuid.uuid4().hex[:10]}"
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    try:
        probe = Store(url, clock=clock, schema=schema)
        probe.migrate()
    except Exception as exc:  # pragma: no cover - depends on the machine
        from tests.support import missing

        missing(f"PostgreSQL not reachable: {exc}")
        return
    h = Harness(CFG, clock)
    h.store = probe
    h.dispatcher = h._dispatcher()
    h._store = lambda: Store(url, clock=clock, schema=schema)  # type: ignore[method-assign]
    try:
        await h.start()
        await h.push(h.alert("A", ends=10_000))
        await h.run_until(100)
        await h.push(h.alert("A", starts=0, ends=h.now))
        await h.restart()
        await h.run_until(400)
        await h.stop()
        assert [(s.at, s.firing, s.resolved) for s in h.sent] == [
            (30.0, ["A"], []),
            (330.0, [], ["A"]),
        ]
        # Expiry deletes log rows by their three-column key.
        assert len(h.dispatcher.state.load_nflog()) == 1
        clock.set(clock.now() + 121 * 3600)
        h.dispatcher.maintenance()
        assert h.dispatcher.state.load_nflog() == []
    finally:
        with h.store.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        h.store.close()


async def test_maintenance_expires_log_entries_and_old_silences(clock: FakeClock) -> None:
    from tocsin.alerting.matchers import parse_matchers

    h = Harness(CFG, clock)
    await h.start()
    h.dispatcher.silences.add(parse_matchers('alertname="X"'), clock.now() + 60)
    h.dispatcher.save_silences()
    await h.push(h.alert("A", ends=100))
    await h.run_until(400)
    assert len(h.dispatcher.nflog) == 1
    await h.stop()
    clock.set(clock.now() + 121 * 3600)
    h.dispatcher.maintenance()
    assert len(h.dispatcher.nflog) == 0
    assert h.dispatcher.state.load_nflog() == []
    assert len(h.dispatcher.silences) == 0
    # The silence row stays as history.
    assert len(h.dispatcher.state.load_silences()) == 1


async def test_end_to_end_to_a_real_webhook(clock: FakeClock) -> None:
    import asyncio

    from tests.notify.fakes import FakeWebhook
    from tocsin.alerting.dispatcher import Dispatcher
    from tocsin.notify.deps import IntegrationDeps
    from tocsin.notify.dispatch import Receivers
    from tocsin.notify.retry import MemoryAttemptSink, Retrier

    async with FakeWebhook() as hook:
        cfg = parse_alertmanager_config(
            "route: {receiver: hook, group_by: [alertname], group_wait: 10s}\n"
            f"receivers: [{{name: hook, webhook_configs: [{{url: '{hook.url}/in'}}]}}]\n"
        )
        receivers = Receivers.build(
            [{"name": "hook", "webhook_configs": [{"url": f"{hook.url}/in"}]}],
            IntegrationDeps(render=lambda text, n: text, clock=clock),
            Retrier(clock, MemoryAttemptSink()),
        )
        d = Dispatcher(cfg, None, clock, receivers=receivers, external_url="http://tocsin")
        await d.start()
        try:
            await d.put(
                [Alert(labels={"alertname": "Down", "zone": "z1"}, ends_at=clock.now() + 900)]
            )
            await clock.advance(10)
            for _ in range(500):  # real HTTP round trip to the local fake
                if hook.requests:
                    break
                await asyncio.sleep(0.01)
        finally:
            await d.stop()
            await receivers.aclose()
    assert hook.problems == []
    body = hook.last.json
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["receiver"] == "hook"
    assert body["groupKey"] == '{}:{alertname="Down"}'
    assert body["groupLabels"] == {"alertname": "Down"}
    assert body["externalURL"] == "http://tocsin"
    assert [a["labels"] for a in body["alerts"]] == [{"alertname": "Down", "zone": "z1"}]
    assert body["alerts"][0]["fingerprint"] == fingerprint({"alertname": "Down", "zone": "z1"})


async def test_timeout_resolution_is_kept_in_history(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    await h.start()
    await h.push(h.alert("T"))  # no endsAt: resolves after resolve_timeout (5m)
    await h.run_until(700)
    await h.stop()
    rows = h.dispatcher.state.alert_history(fingerprint=fingerprint({"alertname": "T"}))
    assert [(r.old_state, r.new_state, r.at - h.t0) for r in rows] == [
        ("firing", "resolved", 300.0),
        ("", "firing", 0.0),
    ]
    assert len(h.dispatcher.alerts) == 0  # resolve delivered, alert forgotten


async def test_state_writes_survive_a_failed_commit(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    state = h.dispatcher.state
    real_write = state._write
    calls = []

    def failing_once(*args: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is away")
        real_write(*args)  # type: ignore[arg-type]

    state._write = failing_once  # type: ignore[method-assign]
    await h.dispatcher.put([h.alert("A", ends=100)])
    with pytest.raises(RuntimeError):
        state.commit()
    state.commit()
    assert [a.labels["alertname"] for a in state.load_alerts()] == ["A"]


async def test_reload_during_a_flush_keeps_the_new_groups(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    await h.start()
    await h.push(h.alert("A", ends=10_000))
    await h.run_until(100)
    await h.push(h.alert("A", starts=0, ends=100))
    h.recorders["team"].failures = 1  # the flush at t=330 retries a second later
    await h.run_until(330.5)
    assert len(h.dispatcher._flushes) == 1
    h.dispatcher.apply_config(parse_alertmanager_config(CFG))
    await h.run_until(400)
    assert [(s.at, s.firing, s.resolved) for s in h.sent] == [
        (30.0, ["A"], []),
        (331.0, [], ["A"]),
    ]
    # The replaced group's flush must not take the alert from the new group.
    assert len(h.dispatcher.groups) == 1
    assert len(h.dispatcher.alerts) == 1
    await h.run_until(700)
    await h.stop()
    assert len(h.sent) == 2
    assert len(h.dispatcher.groups) == 0
    assert len(h.dispatcher.alerts) == 0


async def test_a_receiver_without_integrations_fails_the_flush_visibly(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness(CFG, clock)
    assert h.dispatcher.receivers is not None
    del h.dispatcher.receivers.receivers["pager"]
    await h.start()
    await h.push(h.alert("P", ends=10_000, severity="page"))
    with caplog.at_level("WARNING"):
        await h.run_until(40)
    await h.stop()
    assert "receiver 'pager' has no deliverable integration" in caplog.text
    assert len(h.dispatcher.groups) == 1  # kept for the next flush


async def test_metrics_collector_reports_dispatcher_state(clock: FakeClock) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from tocsin.alerting.matchers import parse_matchers
    from tocsin.alerting.metrics import DispatcherCollector

    h = Harness(CFG, clock)
    await h.start()
    h.dispatcher.silences.add(parse_matchers('alertname="B"'), clock.now() + 60)
    await h.push(h.alert("A", ends=1000), h.alert("B", ends=1000), h.alert("C", ends=1))
    await h.run_until(40)
    await h.stop()
    registry = CollectorRegistry()
    registry.register(DispatcherCollector(h.dispatcher))
    text = generate_latest(registry).decode()
    assert 'tocsin_alerts{state="active"} 1.0' in text
    assert 'tocsin_alerts{state="suppressed"} 1.0' in text
    assert "tocsin_alerting_aggregation_groups 2.0" in text  # C resolved and left
    assert "tocsin_alerting_nflog_entries 1.0" in text
    assert 'tocsin_silences{state="active"} 1.0' in text


async def test_reload_keeps_flap_state(clock: FakeClock) -> None:
    ext = AlertingExtensions.model_validate({"flap_hold": {"transitions": 1, "window": "1h"}})
    h = Harness(CFG, clock, extensions=ext)
    await h.start()
    await h.push(h.alert("A", ends=100_000))
    await h.run_until(60)
    await h.push(h.alert("A", starts=0, ends=h.now))
    await h.run_until(120)
    await h.push(h.alert("A", starts=h.now, ends=100_000))
    h.dispatcher.apply_config(parse_alertmanager_config(CFG))
    assert h.dispatcher.flaps is not None
    assert h.dispatcher.flaps.is_flapping(next(iter(h.dispatcher.alerts)), clock.now())
    await h.stop()


async def test_alert_writes_wait_but_log_writes_commit_at_once(clock: FakeClock) -> None:
    import asyncio

    import sqlalchemy as sa

    def rows(table: str) -> int:
        with h.store.engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())

    h = Harness(CFG, clock)
    await h.start()
    await h.push(h.alert("A", ends=10_000))
    await asyncio.sleep(0)
    assert rows("alerting_alerts") == 0  # batched for commit_delay (0.5 s real)
    await h.run_until(30)
    for _ in range(3):
        await asyncio.sleep(0)
    assert rows("alerting_nflog") == 1  # a notification was sent: committed now
    assert rows("alerting_alerts") == 1
    await h.stop()


async def test_intake_rows_round_trip_through_the_database(
    clock: FakeClock, tmp_path: Path
) -> None:
    # Alert and history rows are built as tuples in column order: what is
    # read back must be exactly what was put, field by field.
    h = Harness(CFG, clock, db_path=tmp_path / "rows.db")
    await h.start()
    put = Alert(
        labels={"alertname": "R", "zone": 'é"1', "empty": ""},
        annotations={"summary": "s"},
        starts_at=clock.now() - 5,
        ends_at=clock.now() + 50,
        generator_url="http://prom/graph",
    )
    await h.dispatcher.put([put, h.alert("T")])
    want = {a.fingerprint: a for a in h.dispatcher.alerts}
    got = {a.fingerprint: a for a in h.dispatcher.state.load_alerts()}
    assert got == want
    fp = fingerprint({"alertname": "R", "zone": 'é"1'})
    (row,) = h.dispatcher.state.alert_history(fingerprint=fp)
    stored = want[fp]
    assert (row.old_state, row.new_state, row.at) == ("", "firing", clock.now())
    assert (dict(row.labels), dict(row.annotations)) == (dict(stored.labels), {"summary": "s"})
    assert (row.starts_at, row.ends_at) == (stored.starts_at, stored.ends_at)
    await h.stop()


async def test_alert_status_active_unprocessed_and_suppressed(clock: FakeClock) -> None:
    from tocsin.alerting.dispatcher import Dispatcher
    from tocsin.alerting.matchers import parse_matchers
    from tocsin.alerting.store import accept

    d = Dispatcher(parse_alertmanager_config(CFG), None, clock)
    now = clock.now()
    await d.put([Alert(labels={"alertname": "A"}), Alert(labels={"alertname": "S"})])
    # Known but in no group (yet): what Alertmanager calls unprocessed.
    loose, _ = d.alerts.upsert(accept(Alert(labels={"alertname": "U"}), now, 300.0), now)
    sid = d.silences.add(parse_matchers('alertname="S"'), now + 600).id
    by_name = {a.labels["alertname"]: d.alert_status(a, now) for a in d.alerts}
    assert by_name["A"] == AlertStatus("active", (), (), ())
    assert by_name["U"] == AlertStatus("unprocessed", (), (), ())
    assert by_name["S"] == AlertStatus("suppressed", (sid,), (), ())
    assert d.alert_status(loose, now, muted_by=["nights"]) == AlertStatus(
        "suppressed", (), (), ("nights",)
    )


def test_many_rows_per_statement_keep_order_and_upsert(tmp_path: Path) -> None:
    from tocsin.alerting.persistence import AlertingState
    from tocsin.alerting.store import Change, accept

    store = Store(f"sqlite:///{tmp_path / 'many.db'}")
    store.migrate()
    state = AlertingState(store)
    # More rows than one statement takes, and not a multiple of it.
    alerts = [accept(Alert(labels={"n": str(i)}), float(i), 300.0) for i in range(1000)]
    state.save_intake(alerts, [Change(a, "", "firing") for a in alerts], 5.0)
    state.commit()
    renewed = [accept(Alert(labels={"n": str(i)}), 7.0, 300.0) for i in range(0, 1000, 3)]
    state.save_alerts(renewed)
    state.commit()
    loaded = {a.labels["n"]: a.updated_at for a in state.load_alerts()}
    assert loaded == {str(i): 7.0 if i % 3 == 0 else float(i) for i in range(1000)}
    newest_first = [r.labels["n"] for r in state.alert_history(limit=10_000)]
    assert newest_first == [str(i) for i in reversed(range(1000))]
    store.close()


async def test_retries_of_a_flush_stop_when_its_group_interval_runs_out(clock: FakeClock) -> None:
    h = Harness(CFG, clock)
    await h.start()
    h.recorders["team"].failures = 1000
    await h.push(h.alert("A", ends=10_000))
    await h.run_until(329)  # the first flush (t=30) only: the next is at 330
    await h.stop()
    attempts = sorted(h.attempts.attempts, key=lambda a: a.at)
    times = [a.at - h.t0 for a in attempts]
    # Backoff 1, 2, 4, 8, 10, 10, ... s (the harness's policy, no jitter) ...
    assert times[:5] == pytest.approx([30, 31, 33, 37, 45])
    # ... until the next wait would pass the group interval (5m after the flush).
    assert 330 - 10 <= times[-1] < 330
    assert [a.final for a in attempts] == [False] * (len(attempts) - 1) + [True]
    [note] = h.dispatcher.state.notifications()
    assert not note.ok
    assert "gave up at deadline" in note.error
