"""Simulator and tocsin on 127.0.0.1, end to end, driven on a virtual clock."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.harness import harness
from tocsin.clock import FakeClock
from tocsin.notify.retry import RateLimit


async def test_outage_is_confirmed_then_recovers(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.round()
        [NORMAL] = await h.pick("normal")
        [CRITICAL] = await h.pick("critical")
        assert (await h.state(NORMAL))["state"] == "up"
        fault = h.sim.add_fault(kind="zone_outage", zones=[NORMAL, CRITICAL])
        await h.round()
        await h.round()
        # Two failures: enough for the critical zone (2 of 3), not the normal one (3 of 5).
        assert (await h.state(CRITICAL))["state"] == "down"
        assert (await h.state(NORMAL))["state"] == "up"
        await h.round()
        down = await h.state(NORMAL)
        assert down["state"] == "down"
        assert "observations failed" in down["reason"]
        assert "recheck failed" in down["reason"]
        assert (await h.up_samples())[NORMAL] == 0
        listed = (await h.api.get("/api/tocsin/v1/targets", params={"state": "down"})).json()
        assert {t["id"] for t in listed["targets"]} == {NORMAL, CRITICAL}

        h.sim.remove_fault(fault)
        await h.round()
        await h.round()
        assert (await h.state(NORMAL))["state"] == "down"  # hysteresis: 3 ups needed
        await h.round()
        recovered = await h.state(NORMAL)
        assert recovered["state"] == "up"
        assert [e["new"] for e in recovered["history"]][:2] == ["up", "down"]
        assert (await h.up_samples())[NORMAL] == 1
        decisions = await h.decisions()
        assert decisions["recheck_failed"] == 2
        assert decisions["confirmed_down"] == 2
        assert decisions["recovered"] == 2
        assert decisions["mass_change"] == 0


async def test_flapping_zone_raises_one_flapping_state(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.round()
        [NORMAL] = await h.pick("normal")
        h.sim.add_fault(kind="flapping", zones=[NORMAL], period=2 * 30)
        for _ in range(14):
            await h.round()
        target = await h.state(NORMAL)
        assert target["state"] == "flapping"
        changes = [e["new"] for e in target["history"]]
        # No storm: a handful of changes, not one per sweep.
        assert len(changes) <= 4
        assert NORMAL not in await h.up_samples()


async def test_5xx_burst_is_a_source_incident_not_target_downs(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.round()
        [NORMAL] = await h.pick("normal")
        h.sim.add_fault(kind="api_5xx", status=503, duration=4 * 30)
        for _ in range(3):
            await h.round()
        sources = (await h.api.get("/api/tocsin/v1/sources")).json()["sources"]
        assert sources[0]["incident"]
        down = (await h.api.get("/api/tocsin/v1/targets", params={"state": "down"})).json()
        assert down["total"] == 0
        for _ in range(3):
            await h.round()
        sources = (await h.api.get("/api/tocsin/v1/sources")).json()["sources"]
        assert sources[0]["incident"] is None
        assert (await h.state(NORMAL))["state"] == "up"


async def test_event_log_lists_source_and_target_changes(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.round()
        [NORMAL] = await h.pick("normal")
        h.sim.add_fault(kind="api_5xx", status=503, duration=4 * 30)
        for _ in range(6):
            await h.round()
        url = "/api/tocsin/v1/events"
        src = (await h.api.get(url, params={"kind": "source"})).json()["events"]
        assert [(e["old"], e["new"]) for e in src] == [
            ("source_degraded", "ok"),
            ("ok", "source_degraded"),
        ]
        assert all(e["source"] == "fleet" and e["target"] is None for e in src)
        assert src[0]["id"] > src[1]["id"]
        assert src[0]["at"] > src[1]["at"]
        mine = (await h.api.get(url, params={"target": NORMAL})).json()["events"]
        assert [(e["kind"], e["new"], e["labels"]["venue"]) for e in mine] == [
            ("target", "up", NORMAL.split("-")[0])
        ]
        page = (await h.api.get(url, params={"limit": 1})).json()["events"]
        older = await h.api.get(url, params={"limit": 1, "before_id": page[0]["id"]})
        assert older.json()["events"][0]["id"] < page[0]["id"]
        assert (await h.api.get(url, params={"since": src[0]["at"] + 1})).json()["events"] == []
        assert (await h.api.get(url, params={"limit": 0})).status_code == 422


async def test_malformed_pages_never_mark_targets_down(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.round()
        [NORMAL] = await h.pick("normal")
        h.sim.add_fault(kind="malformed_json", rate=1.0, duration=3 * 30)
        for _ in range(4):
            await h.round()
        down = (await h.api.get("/api/tocsin/v1/targets", params={"state": "down"})).json()
        assert down["total"] == 0
        assert (await h.state(NORMAL))["state"] == "up"


async def test_restart_restores_state_without_new_events(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    async with harness(tmp_path, db=db) as h:
        await h.round()
        [CRITICAL] = await h.pick("critical")
        h.sim.add_fault(kind="zone_outage", zones=[CRITICAL])
        for _ in range(3):
            await h.round()
        before = await h.state(CRITICAL)
        assert before["state"] == "down"
        clock = h.clock
    async with harness(tmp_path, db=db, clock=clock) as h2:
        restored = await h2.state(CRITICAL)
        assert restored["state"] == "down"
        assert restored["since"] == before["since"]
        h2.sim.add_fault(kind="zone_outage", zones=[CRITICAL])
        await h2.round()
        after = await h2.state(CRITICAL)
        assert after["state"] == "down"
        assert len(after["history"]) == len(before["history"])


async def test_reload_refuses_a_broken_config_and_keeps_running(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        good = h.config_path.read_text()
        h.config_path.write_text(good.replace("interval: 30", "interval: -1"))
        resp = await h.api.post("/-/reload")
        assert resp.status_code == 500
        assert "sources[0].interval" in resp.text
        assert "fleet" in h.runtime.sources
        await h.round()
        [NORMAL] = await h.pick("normal")
        assert (await h.state(NORMAL))["state"] == "up"

        h.config_path.write_text(good.replace("interval: 30", "interval: 45"))
        assert (await h.api.post("/-/reload")).status_code == 200
        assert h.runtime.sources["fleet"].interval == 45


async def test_reload_metrics_count_the_config_loaded_at_start(tmp_path: Path) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    async with harness(tmp_path, clock=clock) as h:
        text = (await h.api.get("/metrics")).text
        assert "tocsin_config_last_reload_successful 1.0" in text
        assert "tocsin_config_last_reload_success_timestamp_seconds 1.8e+09" in text
        good = h.config_path.read_text()
        h.config_path.write_text(good.replace("interval: 30", "interval: -1"))
        assert (await h.api.post("/-/reload")).status_code == 500
        text = (await h.api.get("/metrics")).text
        assert "tocsin_config_last_reload_successful 0.0" in text


async def test_heartbeat_pings_keep_a_job_up(tmp_path: Path) -> None:
    extra = """
  - name: jobs
    type: heartbeat
    targets:
      - {id: nightly-backup, period: 60, grace: 30}
"""
    # The heartbeat source is appended to the sources list of the harness config.
    async with harness(tmp_path, extra="") as h:
        text = h.config_path.read_text().replace("detection:", extra.strip("\n") + "\ndetection:")
        h.config_path.write_text(text)
        assert (await h.api.post("/-/reload")).status_code == 200
        assert (await h.api.post("/api/tocsin/v1/heartbeat/nightly-backup")).status_code == 200
        assert (await h.api.post("/api/tocsin/v1/heartbeat/nope")).status_code == 404
        await h.round()
        assert (await h.state("nightly-backup"))["state"] == "up"
        for _ in range(6):  # 180 s without a ping: overdue
            await h.round()
        assert (await h.state("nightly-backup"))["state"] == "down"


JOBS = """
  - name: jobs
    type: heartbeat
    targets:
      - {id: etl, period: 60, grace: 30}
      - {id: report, period: 3600}
"""


async def test_heartbeat_pings_survive_a_reload(tmp_path: Path) -> None:
    async with harness(tmp_path, sources=JOBS) as h:
        assert (await h.api.post("/api/tocsin/v1/heartbeat/etl")).status_code == 200
        ping = "/api/tocsin/v1/heartbeat/report"
        assert (await h.api.post(ping, params={"ok": "false"})).status_code == 200
        await h.round()
        assert (await h.state("etl"))["state"] == "up"
        h.config_path.write_text(h.config_path.read_text().replace("grace: 30", "grace: 40"))
        assert (await h.api.post("/-/reload")).status_code == 200
        for _ in range(6):  # 210 s after the last ping: overdue by 110 s
            await h.round()
        assert (await h.state("etl"))["state"] == "down"
        assert (await h.state("report"))["state"] == "down"


async def test_heartbeat_pings_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    async with harness(tmp_path, sources=JOBS, db=db) as h:
        assert (await h.api.post("/api/tocsin/v1/heartbeat/etl")).status_code == 200
        ping = "/api/tocsin/v1/heartbeat/report"
        assert (await h.api.post(ping, params={"ok": "false"})).status_code == 200
        await h.round()
        assert (await h.state("etl"))["state"] == "up"
        clock = h.clock
    async with harness(tmp_path, sources=JOBS, db=db, clock=clock) as h2:
        for _ in range(5):
            await h2.round()
        assert (await h2.state("etl"))["state"] == "down"
        assert (await h2.state("report"))["state"] == "down"


async def test_a_failure_ping_marks_the_job_down_until_the_next_good_one(tmp_path: Path) -> None:
    extra = """
  - name: jobs
    type: heartbeat
    targets:
      - {id: etl, period: 3600}
"""
    async with harness(tmp_path) as h:
        text = h.config_path.read_text().replace("detection:", extra.strip("\n") + "\ndetection:")
        h.config_path.write_text(text)
        assert (await h.api.post("/-/reload")).status_code == 200
        ping = "/api/tocsin/v1/heartbeat/etl"
        assert (await h.api.post(ping)).status_code == 200
        await h.round()
        assert (await h.state("etl"))["state"] == "up"
        resp = await h.api.post(ping, params={"ok": "false"})
        assert resp.status_code == 200
        assert resp.json()["ok"] is False
        for _ in range(5):
            await h.round()
        assert (await h.state("etl"))["state"] == "down"
        assert (await h.api.post(ping, params={"ok": "sideways"})).status_code == 422
        assert (await h.api.post(ping)).status_code == 200
        for _ in range(5):
            await h.round()
        assert (await h.state("etl"))["state"] == "up"


async def test_target_state_is_queryable_with_promql(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.round()
        [critical] = await h.pick("critical")
        venue = (await h.state(critical))["labels"]["venue"]
        h.sim.add_fault(kind="venue_outage", venues=[venue])
        for _ in range(4):
            await h.round()
        t = h.clock.now()
        resp = await h.api.get(
            "/api/v1/query", params={"query": "tocsin_target_up == 0", "time": t}
        )
        body = resp.json()
        assert body["status"] == "success"
        down = {r["metric"]["target"] for r in body["data"]["result"]}
        assert down == {f"{venue}-z{i}" for i in range(1, 6)}
        resp = await h.api.get(
            "/api/v1/query",
            params={"query": "count by (venue) (tocsin_target_up == 0) >= 2", "time": t},
        )
        [row] = resp.json()["data"]["result"]
        assert row["metric"] == {"venue": venue}
        assert row["value"][1] == "5"


async def test_alertmanager_status_masks_secrets_and_follows_reload(tmp_path: Path) -> None:
    am = tmp_path / "alertmanager.yml"
    am.write_text(
        """
route: {receiver: ops}
receivers:
  - name: ops
    webhook_configs:
      - url: http://127.0.0.1:1/hook
        http_config:
          basic_auth: {username: tocsin, password: hunter2-secret}
"""
    )
    async with harness(tmp_path, extra=f"alerting: {{config_file: {am}}}\n") as h:
        original = (await h.api.get("/api/v2/status")).json()["config"]["original"]
        assert "ops" in original
        assert "hunter2" not in original
        am.write_text(am.read_text().replace("ops", "night-shift"))
        assert (await h.api.post("/-/reload")).status_code == 200
        original = (await h.api.get("/api/v2/status")).json()["config"]["original"]
        assert "night-shift" in original
        assert "hunter2" not in original
        receivers = (await h.api.get("/api/v2/receivers")).json()
        assert [r["name"] for r in receivers] == ["night-shift"]


async def test_a_target_dropped_from_its_source_is_forgotten(tmp_path: Path) -> None:
    jobs = """
  - name: jobs
    type: heartbeat
    targets:
      - {id: backup, period: 60}
      - {id: retired-job, period: 60}
"""
    async with harness(tmp_path) as h:
        base = h.config_path.read_text()
        with_jobs = base.replace("detection:", jobs.strip("\n") + "\ndetection:")
        with_jobs += "  forget_after: 90\n"
        h.config_path.write_text(with_jobs)
        assert (await h.api.post("/-/reload")).status_code == 200
        for job in ("backup", "retired-job"):
            assert (await h.api.post(f"/api/tocsin/v1/heartbeat/{job}")).status_code == 200
        await h.round()
        assert (await h.state("retired-job"))["state"] == "up"

        h.config_path.write_text(with_jobs.replace("      - {id: retired-job, period: 60}\n", ""))
        assert (await h.api.post("/-/reload")).status_code == 200
        for _ in range(3):  # 60 s unlisted: still known
            await h.round()
            assert (await h.api.get("/api/tocsin/v1/targets/retired-job")).status_code == 200
        await h.round()  # 90 s: forgotten
        assert (await h.api.get("/api/tocsin/v1/targets/retired-job")).status_code == 404
        assert "retired-job" not in {t.target_id for t in h.runtime.store.load_target_states()}
        [event] = h.runtime.store.events(kind="forgotten")
        assert event.target_id == "retired-job"
        metrics = (await h.api.get("/metrics")).text
        assert 'tocsin_targets_forgotten_total{source="jobs"} 1.0' in metrics
        # Its series end at once, so rules stop seeing it.
        resp = await h.api.get(
            "/api/v1/query",
            params={"query": 'tocsin_target_up{target="retired-job"}', "time": h.clock.now()},
        )
        assert resp.json()["data"]["result"] == []
        assert (await h.state("backup"))["state"] == "up"


ALERTING = """
alerting:
  route: {receiver: venue-it}
  receivers:
    - name: venue-it
      webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
alerting_extensions:
  receivers:
    venue-it:
      rate_limit: {per_second: 0.5, burst: 2}
"""


async def test_receiver_rate_limits_are_configured_and_reloaded(tmp_path: Path) -> None:
    async with harness(tmp_path, extra=ALERTING) as h:
        limiter = h.runtime.retrier.limiter
        assert limiter is not None
        assert limiter.limit("venue-it") == RateLimit(per_second=0.5, burst=2)

        good = h.config_path.read_text()
        h.config_path.write_text(good.replace("burst: 2", "burst: 7"))
        assert (await h.api.post("/-/reload")).status_code == 200
        assert limiter.limit("venue-it") == RateLimit(per_second=0.5, burst=7)


async def test_reload_refuses_a_receiver_it_cannot_build_and_keeps_running(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, extra=ALERTING) as h:
        good = h.config_path.read_text()
        h.config_path.write_text(
            good.replace(
                "webhook_configs:",
                "telegram_configs: [{bot_token: t, chat_id: 1}]\n      webhook_configs:",
            ).replace("burst: 2", "burst: 9")
        )
        resp = await h.api.post("/-/reload")
        assert resp.status_code == 500
        assert "receiver 'venue-it': telegram_configs is not supported by tocsin" in resp.text
        # Nothing of the refused file took effect; the sources still run.
        assert "fleet" in h.runtime.sources
        assert h.runtime.sources["fleet"].interval == 30
        limiter = h.runtime.retrier.limiter
        assert limiter is not None
        assert limiter.limit("venue-it") == RateLimit(per_second=0.5, burst=2)


async def test_reload_refuses_a_template_file_that_does_not_parse(tmp_path: Path) -> None:
    async with harness(tmp_path, extra=ALERTING) as h:
        (tmp_path / "bad.tmpl").write_text('{{ define "x" }}{{ .Foo\n')
        good = h.config_path.read_text()
        h.config_path.write_text(
            good.replace("  route:", f"  templates: ['{tmp_path}/*.tmpl']\n  route:")
        )
        resp = await h.api.post("/-/reload")
        assert resp.status_code == 500
        assert "templates: template: bad.tmpl:2" in resp.text
        assert h.runtime.sources["fleet"].interval == 30
