"""`tocsin sim` as a user runs it: a real process on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.support import REPO, free_port
from tocsin.cli.main import app
from tocsin.sim import read_truth


def test_sim_serves_until_terminated_and_writes_truth(tmp_path: Path) -> None:
    port = free_port()
    truth = tmp_path / "truth.jsonl"
    cmd = [
        sys.executable, "-m", "tocsin", "sim", "--venues", "40", "--zones-per-venue", "5",
        "--port", str(port), "--seed", "3", "--failing-share", "0.01",
        "--scenario", str(REPO / "examples" / "sim" / "scenario.yml"),
        "--truth", str(truth), "--api-key", "k1", "--budget-per-minute", "600",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=os.environ
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until it listens (or exits)
        assert f"listening on http://127.0.0.1:{port}" in line, line + proc.stderr.read()
        assert re.search(r"200 zones in 40 venues \(2 failing\)", line)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as http:
            assert http.get("/v1/zones").status_code == 401
            doc = http.get("/v1/zones?page_size=500", headers={"X-API-Key": "k1"}).json()
            assert doc["total"] == 200
            assert sum(z["status"] == "offline" for z in doc["zones"]) == 2
            faults = http.get("/admin/faults").json()["faults"]
            assert len(faults) == 11
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out
    records = read_truth(truth)
    assert len(records) == 2
    assert all(r["end"] is None and r["fault"] == "initial" for r in records)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--venues", "0"], "--venues: Input should be greater than or equal to 1"),
        (["--failing-share", "2"], "--failing-share"),
    ],
)
def test_sim_rejects_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["sim", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_sim_rejects_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("faults:\n  - kind: slow\n    delay: -1\n")
    result = CliRunner().invoke(app, ["sim", "--scenario", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3: faults[0].delay" in result.output


def test_sim_rejects_scenario_with_unknown_zone(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("faults:\n  - kind: zone_outage\n    zones: [v09999-z1]\n")
    result = CliRunner().invoke(
        app, ["sim", "--venues", "5", "--port", "0", "--scenario", str(bad)]
    )
    assert result.exit_code == 2
    assert "unknown zone id(s): v09999-z1" in result.output
