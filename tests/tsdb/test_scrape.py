from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tocsin.clock import FakeClock
from tocsin.tsdb.config import RelabelConfig, ScrapeConfig, StaticConfig
from tocsin.tsdb.db import TSDB
from tocsin.tsdb.relabel import Relabeler
from tocsin.tsdb.scrape import ScrapeLoop, ScrapeManager, merge_labels
from tocsin.tsdb.types import LabelMatcher, MatchOp, is_stale

from .exporter import Exporter, serve_exporter

BODY = """# TYPE zone_up gauge
zone_up{zone="z1",venue="v1"} 1
zone_up{zone="z2",venue="v1"} 0
zone_up{zone="z3",venue="v2",job="exporter-side"} 1
build_info{version="1.2"} 1
"""


async def _until(done: Callable[[], bool]) -> None:
    """Wait (bounded) for real network I/O started by a clock tick to finish."""
    async with asyncio.timeout(5):
        while not done():  # noqa: ASYNC110 - the condition is set by another task's I/O
            await asyncio.sleep(0.005)


def _all(db: TSDB, name: str) -> dict[str, list[float]]:
    out = {}
    for s in db.select([LabelMatcher("__name__", MatchOp.EQ, name)], 0, 2**62):
        key = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "__name__")
        out[key] = s.values.tolist()
    return out


def _loop(
    exp: Exporter, db: TSDB, clock: FakeClock, session: aiohttp.ClientSession, **kw: object
) -> ScrapeLoop:
    cfg = ScrapeConfig(job_name="fleet", static_configs=[StaticConfig(targets=[exp.target])], **kw)  # type: ignore[arg-type]
    return ScrapeLoop(cfg, exp.target, {"dc": "a"}, db, session, clock, spread=False)


async def test_scrape_labels_report_series_and_conflicts(clock: FakeClock) -> None:
    db = TSDB().open()
    async with serve_exporter(BODY) as exp, aiohttp.ClientSession() as session:
        loop = _loop(exp, db, clock, session)
        assert await loop.scrape_once()
        inst = exp.target
        assert set(_all(db, "zone_up")) == {
            f"dc=a,instance={inst},job=fleet,venue=v1,zone=z1",
            f"dc=a,instance={inst},job=fleet,venue=v1,zone=z2",
            f"dc=a,exported_job=exporter-side,instance={inst},job=fleet,venue=v2,zone=z3",
        }
        assert _all(db, "up") == {f"dc=a,instance={inst},job=fleet": [1.0]}
        assert list(_all(db, "scrape_samples_scraped").values()) == [[4.0]]
        assert list(_all(db, "scrape_series_added").values()) == [[4.0]]
        (dur,) = _all(db, "scrape_duration_seconds").values()
        assert 0 < dur[0] < 5
        req = exp.requests[0]
        assert req.headers["Accept"].startswith("text/plain;version=0.0.4")
        assert req.headers["X-Prometheus-Scrape-Timeout-Seconds"] == "10"


async def test_honor_labels_keeps_scraped_values(clock: FakeClock) -> None:
    db = TSDB().open()
    async with serve_exporter(BODY) as exp, aiohttp.ClientSession() as session:
        await _loop(exp, db, clock, session, honor_labels=True).scrape_once()
        keys = set(_all(db, "zone_up"))
        assert f"dc=a,instance={exp.target},job=exporter-side,venue=v2,zone=z3" in keys
        # The report series always carry the configured job.
        assert set(_all(db, "up")) == {f"dc=a,instance={exp.target},job=fleet"}


async def test_metric_relabel_keep_drop_replace(clock: FakeClock) -> None:
    db = TSDB().open()
    relabel = [
        RelabelConfig(source_labels=["__name__"], regex="zone_up", action="keep"),
        RelabelConfig(source_labels=["zone"], regex="z2", action="drop"),
        RelabelConfig(
            source_labels=["venue", "zone"],
            regex="v(\\d);z(\\d)",
            target_label="site",
            replacement="site-$1-${2}",
        ),
        RelabelConfig(source_labels=["nosuch"], regex="", target_label="venue", replacement=""),
    ]
    async with serve_exporter(BODY) as exp, aiohttp.ClientSession() as session:
        await _loop(exp, db, clock, session, metric_relabel_configs=relabel).scrape_once()
        inst = exp.target
        assert set(_all(db, "zone_up")) == {
            f"dc=a,instance={inst},job=fleet,site=site-1-1,zone=z1",
            f"dc=a,exported_job=exporter-side,instance={inst},job=fleet,site=site-2-3,zone=z3",
        }
        assert _all(db, "build_info") == {}
        assert list(_all(db, "scrape_samples_post_metric_relabeling").values()) == [[2.0]]


async def test_failure_sets_up_zero_and_marks_everything_stale(clock: FakeClock) -> None:
    db = TSDB().open()
    async with serve_exporter(BODY) as exp, aiohttp.ClientSession() as session:
        loop = _loop(exp, db, clock, session)
        assert await loop.scrape_once()
        clock.set(clock.now() + 60)
        exp.status = 503
        assert not await loop.scrape_once()
        assert loop.health.health == "down"
        assert loop.health.last_error == "server returned HTTP status 503"
        assert list(_all(db, "up").values()) == [[1.0, 0.0]]
        for values in _all(db, "zone_up").values():
            assert is_stale(__import__("numpy").array(values)).tolist() == [False, True]


async def test_vanished_series_get_stale_markers(clock: FakeClock) -> None:
    db = TSDB().open()
    async with serve_exporter(BODY) as exp, aiohttp.ClientSession() as session:
        loop = _loop(exp, db, clock, session)
        await loop.scrape_once()
        clock.set(clock.now() + 60)
        exp.body = BODY.replace('zone_up{zone="z2",venue="v1"} 0\n', "")
        await loop.scrape_once()
        got = {k.split("zone=")[-1]: v for k, v in _all(db, "zone_up").items()}
        assert got["z1"] == [1.0, 1.0]
        assert len(got["z2"]) == 2
        assert is_stale(__import__("numpy").array(got["z2"]))[1]
        labels, _, _ = db.select_instant(
            [LabelMatcher("__name__", MatchOp.EQ, "zone_up")], int(clock.now() * 1000), 300_000
        )
        assert sorted(lb["zone"] for lb in labels) == ["z1", "z3"]


async def test_invalid_text_and_unreachable_target_fail_cleanly(clock: FakeClock) -> None:
    db = TSDB().open()
    async with serve_exporter("up{oops 1\n") as exp, aiohttp.ClientSession() as session:
        loop = _loop(exp, db, clock, session)
        assert not await loop.scrape_once()
        assert "invalid exposition format" in (loop.health.last_error or "")
        port = exp.port
    async with aiohttp.ClientSession() as session:
        cfg = ScrapeConfig(job_name="gone", scrape_timeout=1, scrape_interval=5)
        loop = ScrapeLoop(cfg, f"127.0.0.1:{port}", {}, db, session, clock, spread=False)
        assert not await loop.scrape_once()
        assert "request failed" in (loop.health.last_error or "")


async def test_sample_limit_fails_the_scrape(clock: FakeClock) -> None:
    db = TSDB().open()
    async with serve_exporter(BODY) as exp, aiohttp.ClientSession() as session:
        loop = _loop(exp, db, clock, session, sample_limit=2)
        assert not await loop.scrape_once()
        assert "sample limit" in (loop.health.last_error or "")
        assert _all(db, "zone_up") == {}


async def test_auth_headers_are_sent(clock: FakeClock) -> None:
    db = TSDB().open()
    async with serve_exporter(BODY) as exp, aiohttp.ClientSession() as session:
        await _loop(
            exp, db, clock, session, basic_auth={"username": "u", "password": "p w"}
        ).scrape_once()
        await _loop(exp, db, clock, session, authorization={"credentials": "tok"}).scrape_once()
        assert (
            exp.requests[0].headers["Authorization"]
            == "Basic " + base64.b64encode(b"u:p w").decode()
        )
        assert exp.requests[1].headers["Authorization"] == "Bearer tok"


async def test_secret_files_are_read_at_every_scrape(clock: FakeClock, tmp_path: Path) -> None:
    db = TSDB().open()
    pw, tok = tmp_path / "pw", tmp_path / "tok"
    pw.write_text("first\n")
    tok.write_text("t1\n")
    async with serve_exporter(BODY) as exp, aiohttp.ClientSession() as session:
        basic = _loop(
            exp, db, clock, session, basic_auth={"username": "u", "password_file": str(pw)}
        )
        bearer = _loop(exp, db, clock, session, authorization={"credentials_file": str(tok)})
        for loop in (basic, bearer):
            assert await loop.scrape_once()
        pw.write_text("second\n")
        tok.write_text("t2\n")
        for loop in (basic, bearer):
            assert await loop.scrape_once()
        tok.unlink()
        assert not await bearer.scrape_once()
        assert f"cannot read secret file {tok}" in (bearer.health.last_error or "")
    assert [r.headers["Authorization"] for r in exp.requests] == [
        "Basic " + base64.b64encode(b"u:first").decode(),
        "Bearer t1",
        "Basic " + base64.b64encode(b"u:second").decode(),
        "Bearer t2",
    ]


async def test_params_path_and_timeout(clock: FakeClock) -> None:
    db = TSDB().open()
    async with serve_exporter(BODY) as exp, aiohttp.ClientSession() as session:
        params = {"module": ["a", "b"], "target": ["zone 1"]}
        loop = _loop(exp, db, clock, session, metrics_path="/other", params=params)
        assert await loop.scrape_once()
        req = exp.requests[0]
        assert req.path == "/other"
        assert req.query.getall("module") == ["a", "b"]
        assert req.query["target"] == "zone 1"
        exp.delay = 1.0
        slow = _loop(exp, db, clock, session, scrape_timeout=0.1)
        assert not await slow.scrape_once()
        assert slow.health.last_error == "scrape timed out after 0.1s"


async def test_manager_scrapes_on_the_clock_and_stale_marks_removed_targets(
    clock: FakeClock,
) -> None:
    db = TSDB().open()
    async with serve_exporter(BODY) as exp:
        mgr = ScrapeManager(db, clock, spread=False)
        cfg = ScrapeConfig(
            job_name="fleet",
            scrape_interval=15,
            static_configs=[StaticConfig(targets=[exp.target])],
        )
        mgr.apply([cfg])
        for expected in (1, 2, 3):
            await clock.advance(0 if expected == 1 else 15)
            await _until(lambda: mgr.targets()[0].last_scrape == clock.now())
        assert len(exp.requests) == 3
        ups = db.select([LabelMatcher("__name__", MatchOp.EQ, "up")], 0, 2**62)
        assert ups[0].timestamps.tolist() == [
            int((clock.now() - 30) * 1000),
            int((clock.now() - 15) * 1000),
            int(clock.now() * 1000),
        ]
        mgr.apply([])
        assert mgr.targets() == []
        # Stale markers land just after the last scrape, so the series end there.
        labels, _, _ = db.select_instant(
            [LabelMatcher("__name__", MatchOp.RE, ".+")], int(clock.now() * 1000) + 1, 300_000
        )
        assert list(labels) == []
        await mgr.close()


@pytest.mark.parametrize(
    ("scraped", "honor", "expected"),
    [
        ({"a": "1"}, False, {"a": "1", "job": "j", "instance": "i"}),
        ({"job": "x"}, False, {"job": "j", "exported_job": "x", "instance": "i"}),
        (
            {"job": "x", "exported_job": "y"},
            False,
            {"job": "j", "exported_job": "y", "exported_exported_job": "x", "instance": "i"},
        ),
        ({"job": "x"}, True, {"job": "x", "instance": "i"}),
    ],
)
def test_merge_labels(scraped: dict[str, str], honor: bool, expected: dict[str, str]) -> None:
    assert merge_labels(scraped, {"job": "j", "instance": "i"}, honor) == expected


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        (
            {"action": "labelmap", "regex": "v(.*)", "replacement": "x_$1"},
            {"venue": "v1", "x_enue": "v1"},
        ),
        ({"action": "labeldrop", "regex": "venue"}, {}),
        ({"action": "labelkeep", "regex": "__name__"}, {}),
        (
            {"source_labels": ["venue"], "target_label": "t", "replacement": "$$1-$1x-$1"},
            {"venue": "v1", "t": "$1--v1"},
        ),
        # Go (RE2) syntax, which Python's re reads differently.
        (
            {"source_labels": ["venue"], "regex": "v([[:digit:]]+)", "target_label": "n"},
            {"venue": "v1", "n": "1"},
        ),
        (
            {
                "source_labels": ["venue"],
                "regex": "x|(?i)V1",
                "target_label": "t",
                "replacement": "y",
            },
            {"venue": "v1", "t": "y"},
        ),
    ],
)
def test_relabel_actions(cfg: dict[str, object], expected: dict[str, str]) -> None:
    out = Relabeler([RelabelConfig.model_validate(cfg)]).apply({"__name__": "m", "venue": "v1"})
    assert out == {"__name__": "m", **expected}


@pytest.mark.parametrize("honor", [True, False])
async def test_exposed_timestamps(clock: FakeClock, honor: bool) -> None:
    db = TSDB().open()
    body = "with_ts 3 1699999990000\nwithout_ts 4\n"
    async with serve_exporter(body) as exp, aiohttp.ClientSession() as session:
        await _loop(exp, db, clock, session, honor_timestamps=honor).scrape_once()
    (s,) = db.select([LabelMatcher("__name__", MatchOp.EQ, "with_ts")], 0, 2**62)
    scrape_ms = int(clock.now() * 1000)
    assert s.timestamps.tolist() == [1_699_999_990_000 if honor else scrape_ms]
    (s,) = db.select([LabelMatcher("__name__", MatchOp.EQ, "without_ts")], 0, 2**62)
    assert s.timestamps.tolist() == [scrape_ms]
