"""API calls per hour a source will cost at its configured interval.

Pure functions of the config (and, once a sweep has run, of the pages it
really took), so `tocsin check-config` can print them without polling.
"""

from __future__ import annotations

import math

from tocsin.sources.config import (
    HeartbeatSourceConfig,
    HttpCheckSourceConfig,
    HttpJsonSourceConfig,
    SourceConfig,
    TcpCheckSourceConfig,
)


def http_json_pages(cfg: HttpJsonSourceConfig, measured: int | None = None) -> int:
    """Pages per sweep: as last measured, else from expected_items (1 if unknown)."""
    if measured is not None:
        return measured
    p = cfg.pagination
    if p.style == "none" or cfg.expected_items is None:
        return 1
    pages = max(1, math.ceil(cfg.expected_items / p.page_size))
    # Without a hint of the end, a full last page costs one more (empty) page.
    blind = p.style == "page" and p.next_page is None and p.total is None
    if blind and cfg.expected_items % p.page_size == 0:
        pages += 1
    return min(pages, p.max_pages)


def estimate_calls_per_hour(cfg: SourceConfig, *, measured_pages: int | None = None) -> float:
    """Sweeps per hour x calls per sweep, re-checks counted at their upper bound."""
    sweeps = 3600.0 / cfg.interval
    if isinstance(cfg, HttpJsonSourceConfig):
        per_sweep = http_json_pages(cfg, measured_pages)
        if cfg.recheck_url is not None:
            per_sweep += cfg.recheck_limit
        return per_sweep * sweeps
    if isinstance(cfg, HttpCheckSourceConfig | TcpCheckSourceConfig):
        # One call per target per sweep; re-checks bounded by one more round.
        return 2 * len(cfg.targets) * sweeps
    if isinstance(cfg, HeartbeatSourceConfig):
        return 0.0  # pushed to us; costs nobody's API budget
    raise TypeError(f"no estimate for config {type(cfg).__name__}")
