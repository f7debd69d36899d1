"""The worked example in docs/sources.md must stay valid and work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tocsin.clock import FakeClock
from tocsin.sources.config import HttpJsonSourceConfig
from tocsin.sources.factory import build_source

from .conftest import Serve
from .helpers import ADAPTER
from .vendor import API_KEY, Vendor, zone

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_full_source_example_validates() -> None:
    full = [b for b in yaml_blocks() if b.startswith("sources:") or b.startswith("  - name:")]
    assert len(full) >= 4
    for block in full:
        doc: Any = yaml.safe_load(block.replace("${VENDOR_API_KEY}", "k"))
        for raw in doc["sources"] if isinstance(doc, dict) else doc:
            ADAPTER.validate_python(raw)


async def test_worked_example_sweeps_the_vendor_api(serve: Serve, clock: FakeClock) -> None:
    vendor = Vendor(n=1200)
    base = await serve(vendor.app())
    block = next(b for b in yaml_blocks() if b.startswith("sources:"))
    text = block.replace("http://127.0.0.1:9100", base).replace("${VENDOR_API_KEY}", API_KEY)
    cfg = ADAPTER.validate_python(yaml.safe_load(text)["sources"][0])
    assert isinstance(cfg, HttpJsonSourceConfig)
    assert cfg.pagination.total == "total"
    source = build_source(cfg, clock)
    try:
        result = await source.sweep()
        [again] = await source.recheck([zone(7)["id"]])
        estimate = source.estimate_calls_per_hour()
    finally:
        await source.close()
    assert result.ok, result.error
    assert len(result.observations) == 1200
    first = next(o for o in result.observations if o.target_id == zone(1)["id"])
    assert first.labels["vendor"] == "soundco"
    assert first.labels["timezone"] == "Europe/Stockholm"
    assert again.up is (zone(7)["status"] == "online")
    assert estimate == (3 + 50) * 60  # measured 3 pages + recheck_limit, per hour
