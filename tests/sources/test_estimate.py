from __future__ import annotations

from typing import Any

import pytest

from tocsin.clock import FakeClock
from tocsin.sources.factory import build_source, estimate_calls_per_hour
from tocsin.sources.types import CircuitState

from .conftest import Serve
from .helpers import ADAPTER, vendor_cfg
from .vendor import Vendor

ESTIMATES = [
    # (overrides, calls per hour): pages per sweep x sweeps per hour + rechecks.
    pytest.param({"recheck_url": None}, 60, id="unknown-size-one-page"),
    pytest.param({"recheck_url": None, "expected_items": 100_000}, 200 * 60, id="100k-at-60s"),
    pytest.param(
        {"recheck_url": None, "expected_items": 100_000, "interval": 300}, 200 * 12, id="300s"
    ),
    pytest.param(
        {"recheck_url": None, "expected_items": 1000, "pagination": {"next_page": None}},
        3 * 60,
        id="blind-exact-multiple-costs-an-empty-page",
    ),
    pytest.param(
        {"recheck_url": None, "expected_items": 1001, "pagination": {"style": "none"}},
        60,
        id="no-pagination",
    ),
    pytest.param({"expected_items": 1200, "recheck_limit": 10}, (3 + 10) * 60, id="rechecks"),
    pytest.param(
        {"recheck_url": None, "expected_items": 10**9, "pagination": {"max_pages": 50}},
        50 * 60,
        id="capped-by-max-pages",
    ),
]


@pytest.mark.parametrize(("over", "want"), ESTIMATES)
def test_estimate_calls_per_hour(clock: FakeClock, over: dict[str, Any], want: float) -> None:
    source = build_source(vendor_cfg("http://127.0.0.1:9", **over), clock)
    assert source.estimate_calls_per_hour() == pytest.approx(want)


async def test_estimate_uses_measured_pages_and_health_reports(
    serve: Serve, clock: FakeClock
) -> None:
    vendor = Vendor(n=1200)
    base = await serve(vendor.app())
    source = build_source(vendor_cfg(base, recheck_url=None, expected_items=10), clock)
    assert source.estimate_calls_per_hour() == 60
    try:
        await clock.advance(5)
        result = await source.sweep()
    finally:
        await source.close()
    assert source.estimate_calls_per_hour() == 3 * 60
    h = source.health()
    assert h.name == "vendor"
    assert h.healthy
    assert h.circuit is CircuitState.CLOSED
    assert h.targets == 1200
    assert h.requests_total == 3
    assert h.last_sweep_at == result.finished == clock.now()
    assert h.last_error is None
    assert h.estimated_calls_per_hour == 180
    assert h.budget_per_minute is None


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (
            {
                "type": "http_check",
                "name": "w",
                "interval": 30,
                "targets": [{"id": "a", "url": "http://x"}, {"id": "b", "url": "http://y"}],
            },
            2 * 2 * 120,
        ),
        (
            {
                "type": "tcp_check",
                "name": "t",
                "interval": 3600,
                "targets": [{"id": "a", "host": "h", "port": 1}],
            },
            2,
        ),
        ({"type": "heartbeat", "name": "b", "targets": [{"id": "a", "period": 60}]}, 0),
    ],
)
def test_estimate_from_config_alone(clock: FakeClock, raw: dict[str, Any], want: float) -> None:
    cfg = ADAPTER.validate_python(raw)
    assert estimate_calls_per_hour(cfg) == want
    assert build_source(cfg, clock).estimate_calls_per_hour() == want


async def test_a_crashing_sweep_is_a_failed_sweep(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    source = build_source(vendor_cfg("http://127.0.0.1:9"), clock)

    async def boom(out: list[Any]) -> None:
        raise KeyError("bug")

    source._collect = boom  # type: ignore[method-assign]
    result = await source.sweep()
    await source.close()
    assert not result.ok
    assert "internal error: KeyError" in (result.error or "")
    assert "sweep crashed" in caplog.text
    assert source.breaker.consecutive_failures == 1
