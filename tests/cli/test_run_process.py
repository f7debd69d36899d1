"""`tocsin run` as a user starts it: a real process, signals, reload, shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port
from tocsin.storage.store import Store

CONFIG = """
database: sqlite:///{db}
sources:
  - name: jobs
    type: heartbeat
    interval: {interval}
    targets:
      - {{id: nightly-backup, period: 3600}}
"""


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a real process until it listens
    raise AssertionError(f"{url} not ready in {timeout}s")


def _metric(base: str, name: str) -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    cfg = tmp_path / "tocsin.yml"
    cfg.write_text(CONFIG.format(db=tmp_path / "state.db", interval=60))
    port = free_port()
    log = tmp_path / "tocsin.log"
    cmd = [sys.executable, "-m", "tocsin", "run", "--config", str(cfg)]
    cmd += ["--listen", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(f"{base}/-/ready", proc, log)
            yield base, cfg, proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def _reload_until(base: str, want: float) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if _metric(base, "tocsin_config_last_reload_successful") == want:
                return
        except AssertionError:
            pass
        time.sleep(0.1)  # the reload runs asynchronously after the signal
    raise AssertionError(f"reload state never became {want}")


def test_sighup_refuses_bad_config_and_applies_good(
    running: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    base, cfg, proc = running
    good = cfg.read_text()
    cfg.write_text(good.replace("period: 3600", "period: -1"))
    proc.send_signal(signal.SIGHUP)
    _reload_until(base, 0)
    assert proc.poll() is None
    sources = httpx.get(f"{base}/api/tocsin/v1/sources").json()["sources"]
    assert [s["name"] for s in sources] == ["jobs"]

    cfg.write_text(good.replace("interval: 60", "interval: 120"))
    proc.send_signal(signal.SIGHUP)
    _reload_until(base, 1)
    assert httpx.post(f"{base}/api/tocsin/v1/heartbeat/nightly-backup").status_code == 200


def test_sigterm_shuts_down_cleanly(
    running: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    _, cfg, proc = running
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    # The final snapshot was written: the heartbeat target's state survives.
    store = Store(f"sqlite:///{cfg.parent / 'state.db'}")
    try:
        assert [t.target_id for t in store.load_target_states()] == ["nightly-backup"]
    finally:
        store.close()


def test_bad_config_exits_non_zero_with_location(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text("sources:\n  - name: x\n    type: heartbeat\n    targets: []\n")
    out = subprocess.run(
        [sys.executable, "-m", "tocsin", "run", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert f"{cfg}:4: sources[0].targets:" in out.stderr


def test_check_config_reports_calls_per_hour(tmp_path: Path) -> None:
    cfg = tmp_path / "ok.yml"
    cfg.write_text(CONFIG.format(db=tmp_path / "s.db", interval=60))
    out = subprocess.run(
        [sys.executable, "-m", "tocsin", "check-config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "SUCCESS" in out.stdout
    assert "source jobs (heartbeat)" in out.stdout


def test_receiver_tocsin_cannot_build_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "pager.yml"
    cfg.write_text(
        CONFIG.format(db=tmp_path / "s.db", interval=60)
        + f"server: {{listen: '127.0.0.1:{free_port()}'}}\n"
        "alerting:\n"
        "  route: {receiver: pager}\n"
        "  receivers:\n"
        "    - name: pager\n"
        "      victorops_configs: [{routing_key: r, api_key: k}]\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "tocsin", "run", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert f"configuration error in {cfg}:" in out.stderr
    assert "receiver 'pager': victorops_configs is not supported by tocsin" in out.stderr
    assert "Traceback" not in out.stderr
