"""A `tocsin run` killed with SIGKILL after a notification: the restarted
process neither sends it again nor forgets to send its resolve."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_run_process import _wait
from tests.support import free_port

CONFIG = """
database: sqlite:///{db}
alerting:
  route:
    receiver: ops
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 4h
  receivers:
    - name: ops
      webhook_configs: [{{url: "{hook}", send_resolved: true}}]
"""


class _Hook(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", calls
    finally:
        server.shutdown()
        server.server_close()


def _start(cfg: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "tocsin", "run", "--config", str(cfg)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*cmd, "--listen", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cfg.parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    _wait(f"http://127.0.0.1:{port}/-/ready", proc, log)
    return proc


def _until(what: str, check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)  # polling a real process and a real receiver
    raise AssertionError(f"{what} did not happen within {timeout}s")


def _nflog_rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM alerting_nflog").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_killed_after_a_notification_neither_repeats_nor_forgets_the_resolve(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, calls = hook
    db = tmp_path / "state.db"
    cfg = tmp_path / "tocsin.yml"
    cfg.write_text(CONFIG.format(db=db, hook=url))
    port, log = free_port(), tmp_path / "tocsin.log"
    base = f"http://127.0.0.1:{port}"
    alert = {"labels": {"alertname": "LobbyDown", "zone": "lobby"}}

    proc = _start(cfg, port, log)
    try:
        assert httpx.post(f"{base}/api/v2/alerts", json=[alert]).status_code == 200
        _until("the firing notification", lambda: len(calls) == 1)
        _until("the notification log commit", lambda: _nflog_rows(db) == 1)
    finally:
        proc.kill()  # SIGKILL: no shutdown snapshot, nothing flushed on the way out
        proc.wait(10)
    assert calls[0]["status"] == "firing"

    proc = _start(cfg, port, log)
    try:
        # The restored group is due at once; its flush must find the log entry.
        resolved = {**alert, "endsAt": "2000-01-01T00:00:00Z"}
        assert httpx.post(f"{base}/api/v2/alerts", json=[resolved]).status_code == 200
        # Had the log been lost, the restored flush would send the firing
        # set again, or the resolve would find nothing notified and stay quiet.
        _until("the resolved notification", lambda: len(calls) >= 2)
    finally:
        proc.kill()
        proc.wait(10)
    assert [c["status"] for c in calls] == ["firing", "resolved"], log.read_text()[-2000:]
    assert calls[1]["alerts"][0]["labels"] == alert["labels"]
