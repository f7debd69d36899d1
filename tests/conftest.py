from __future__ import annotations

import pytest

from tocsin.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A virtual clock starting at a fixed instant; tests move it explicitly."""
    return FakeClock(start=1_700_000_000.0)
