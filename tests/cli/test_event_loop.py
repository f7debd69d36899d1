"""Which event loop `tocsin run` asks for."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from tocsin.cli.run_cmd import _loop_factory


def test_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOCSIN_EVENT_LOOP", raising=False)
    factory = _loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_loop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_EVENT_LOOP", "asyncio")
    assert _loop_factory() is None
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        assert not isinstance(runner.get_loop(), uvloop.Loop)
