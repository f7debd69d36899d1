"""Build a Source from its config."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from tocsin.clock import Clock
from tocsin.sources.base import BaseSource
from tocsin.sources.checks import HttpCheckSource, TcpCheckSource
from tocsin.sources.config import (
    HeartbeatSourceConfig,
    HttpCheckSourceConfig,
    HttpJsonSourceConfig,
    SourceConfig,
    TcpCheckSourceConfig,
)
from tocsin.sources.estimate import estimate_calls_per_hour
from tocsin.sources.heartbeat import HeartbeatSource
from tocsin.sources.http_json import HttpJsonSource
from tocsin.sources.types import Source

__all__ = ["as_source", "build_source", "estimate_calls_per_hour"]


def build_source(
    cfg: SourceConfig,
    clock: Clock,
    *,
    session: aiohttp.ClientSession | None = None,
    random: Callable[[], float] | None = None,
) -> BaseSource:
    """A ready source. It owns its HTTP session unless one is injected (then
    the caller closes that); call `await source.close()` when done.
    Raises SourceError if a header file cannot be read."""
    if isinstance(cfg, HttpJsonSourceConfig):
        return HttpJsonSource(cfg, clock, session=session, random=random)
    if isinstance(cfg, HttpCheckSourceConfig):
        return HttpCheckSource(cfg, clock, session=session)
    if isinstance(cfg, TcpCheckSourceConfig):
        return TcpCheckSource(cfg, clock)
    if isinstance(cfg, HeartbeatSourceConfig):
        return HeartbeatSource(cfg, clock)
    raise TypeError(f"no source for config {type(cfg).__name__}")


def as_source(source: BaseSource) -> Source:
    """Every built source satisfies the Source protocol (checked by mypy here)."""
    return source
