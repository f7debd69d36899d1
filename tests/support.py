"""Helpers shared by tests: outside programs, free ports, conformance paths."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvicorn

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO.parent / "shared" / "conformance"


def require_all() -> bool:
    """Under TOCSIN_REQUIRE_ALL=1 (set by .ci/run) a missing dependency fails."""
    return os.environ.get("TOCSIN_REQUIRE_ALL") == "1"


def missing(reason: str) -> None:
    """Skip the test for a missing outside dependency, or fail in CI."""
    if require_all():
        pytest.fail(f"TOCSIN_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


def need_program(*names: str) -> str:
    """Return the path of the first program found, else skip (or fail in CI)."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    missing(f"needs {' or '.join(names)} on PATH (apt-get install it)")
    raise AssertionError("unreachable")


def conformance_dir(*parts: str) -> Path:
    path = CONFORMANCE.joinpath(*parts)
    if not path.exists():
        missing(f"conformance data not found at {path}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # waiting for a real socket to open, not for logic time
        if server.started:
            break
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("uvicorn did not start within 10 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def running_prometheus(
    tmp_path: Path,
    config_yaml: str | Callable[[str], str],
    *,
    ready_query: str = "up",
    wait: float = 30.0,
) -> AsyncIterator[str]:
    """Run a real Prometheus on a free 127.0.0.1 port; yields its base URL.

    `config_yaml` is its prometheus.yml, or a function from its own
    `127.0.0.1:port` to that text (to let it scrape itself). Yields once
    `ready_query` returns data, so the first scrape is in; fails after
    `wait` seconds or if Prometheus exits, showing its log.
    """
    exe = need_program("prometheus")
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "prometheus.yml"
    config.write_text(config_yaml(listen) if callable(config_yaml) else config_yaml)
    log_path = tmp_path / "prometheus.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
            f"--web.listen-address={listen}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://{listen}"
    try:
        await _until_answers(base, ready_query, wait, proc, log_path)
        yield base
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _until_answers(
    base: str, query: str, wait: float, proc: asyncio.subprocess.Process, log_path: Path
) -> None:
    # Polls a real server starting up and scraping; bounded by `wait`.
    async with aiohttp.ClientSession() as session:
        try:
            async with asyncio.timeout(wait):
                while proc.returncode is None:
                    try:
                        async with session.get(
                            f"{base}/api/v1/query", params={"query": query}
                        ) as r:
                            if r.status == 200 and (await r.json())["data"]["result"]:
                                return
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
        except TimeoutError:
            problem = f"prometheus gave no data for {query!r} within {wait:g} s"
        else:
            problem = f"prometheus exited with status {proc.returncode}"
    tail = (await asyncio.to_thread(log_path.read_text, errors="replace"))[-2000:]
    raise RuntimeError(f"{problem}; its log ends:\n{tail}")
