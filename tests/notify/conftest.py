from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tocsin.clock import FakeClock
from tocsin.notify.deps import IntegrationDeps

from .support import stub_render


@pytest.fixture
async def deps(clock: FakeClock) -> AsyncIterator[IntegrationDeps]:
    d = IntegrationDeps(render=stub_render, clock=clock, hostname="tocsin.test")
    yield d
    await d.aclose()  # the HTTP session the integrations opened
