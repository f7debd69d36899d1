"""What an integration gets from the process around it."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from tocsin.clock import Clock, SystemClock
from tocsin.notify.http import SharedSession
from tocsin.notify.types import KeyValueStore, MemoryKeyValueStore, Render


@dataclass(slots=True)
class IntegrationDeps:
    """Injected collaborators shared by every integration of a process.

    `session` is the aiohttp session HTTP integrations send through; when
    unset, one is created on first use and closed by `aclose()` (an injected
    session is left to its owner). `http` is that session as integrations see
    it; `dataclasses.replace(deps)` gives a copy with its own session;
    `kv` keeps state across restarts (Slack threads) and defaults to memory;
    `hostname` is this host's name in email Message-Ids; `render_html`
    renders HTML bodies (email `html`) with HTML escaping, as Alertmanager's
    html/template does, and defaults to `render`.
    """

    render: Render
    clock: Clock = field(default_factory=SystemClock)
    session: aiohttp.ClientSession | None = None
    kv: KeyValueStore | None = None
    hostname: str = "localhost"
    http_timeout: float = 30.0
    render_html: Render | None = None
    http: SharedSession = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.http = SharedSession(self.session)
        if self.kv is None:
            self.kv = MemoryKeyValueStore(self.clock.now)

    @property
    def html(self) -> Render:
        return self.render_html or self.render

    @property
    def store(self) -> KeyValueStore:
        assert self.kv is not None
        return self.kv

    async def aclose(self) -> None:
        """Close the HTTP session created for these deps (not an injected one)."""
        await self.http.aclose()
