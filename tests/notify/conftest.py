from __future__ import annotations

import pytest

from tocsin.clock import FakeClock
from tocsin.notify.deps import IntegrationDeps

from .support import stub_render


@pytest.fixture
def deps(clock: FakeClock) -> IntegrationDeps:
    return IntegrationDeps(render=stub_render, clock=clock, hostname="tocsin.test")
