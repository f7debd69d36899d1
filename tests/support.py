"""Helpers shared by tests: outside programs, free ports, conformance paths."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

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
