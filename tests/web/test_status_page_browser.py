"""The status page as a person sees it: served by uvicorn, rendered by Chromium."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.api.fake_engine import FakeEngine, sample_engine
from tests.support import need_program, serve_app
from tocsin.api.app import create_app

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, FakeEngine]]:
    engine = sample_engine()
    async with serve_app(create_app(engine)) as url:
        yield url, engine


async def _chromium(args: list[str], tmp_path: Path) -> str:
    exe = need_program("chromium", "chromium-browser", "google-chrome")
    proc = await asyncio.create_subprocess_exec(
        exe,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0
    return out.decode()


async def test_chromium_renders_status_page(served: tuple[str, FakeEngine], tmp_path: Path) -> None:
    url, _ = served
    dom = await _chromium(["--dump-dom", f"{url}/"], tmp_path)
    assert "<title>tocsin status</title>" in dom
    summary = dom.split('id="summary"')[1].split("</div></div>")[0]
    assert "down" in summary
    problems = dom.split('id="problems"')[1].split("</table>")[0]
    assert "v1-z2" in problems
    assert "v1-z1" not in problems
    shot = tmp_path / "status.png"
    await _chromium([f"--screenshot={shot}", "--window-size=1280,900", f"{url}/"], tmp_path)
    assert shot.stat().st_size > 10_000  # a real rendered page, not a blank image


async def test_chromium_follows_state_filter(
    served: tuple[str, FakeEngine], tmp_path: Path
) -> None:
    url, _ = served
    dom = await _chromium(["--dump-dom", f"{url}/?state=flapping"], tmp_path)
    targets = dom.split('id="targets"')[1]
    assert "v2-z1" in targets
    assert "v1-z2" not in targets
