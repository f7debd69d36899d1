"""What an integration gets from the process around it."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from tocsin.clock import Clock, SystemClock
from tocsin.notify.types import KeyValueStore, MemoryKeyValueStore, Render


@dataclass(slots=True)
class IntegrationDeps:
    """Injected collaborators shared by every integration of a process.

    `transport` replaces the network for HTTP integrations (tests, proxies);
    `kv` keeps state across restarts (Slack threads) and defaults to memory;
    `hostname` is this host's name in email Message-Ids; `render_html`
    renders HTML bodies (email `html`) with HTML escaping, as Alertmanager's
    html/template does, and defaults to `render`.
    """

    render: Render
    clock: Clock = field(default_factory=SystemClock)
    transport: httpx.AsyncBaseTransport | None = None
    kv: KeyValueStore | None = None
    hostname: str = "localhost"
    http_timeout: float = 30.0
    render_html: Render | None = None

    def __post_init__(self) -> None:
        if self.kv is None:
            self.kv = MemoryKeyValueStore(self.clock.now)

    @property
    def html(self) -> Render:
        return self.render_html or self.render

    @property
    def store(self) -> KeyValueStore:
        assert self.kv is not None
        return self.kv
