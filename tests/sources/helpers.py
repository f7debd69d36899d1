from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from tocsin.sources.config import SourceConfig

from .vendor import API_KEY

ADAPTER: TypeAdapter[Any] = TypeAdapter(SourceConfig)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and value and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def vendor_raw(base: str, **over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": "http_json",
        "name": "vendor",
        "url": f"{base}/v1/zones",
        "headers": {"X-API-Key": API_KEY},
        "pagination": {"style": "page", "page_size": 500, "next_page": "next_page"},
        "items": "zones",
        "mapping": {
            "id": "id",
            "up": "status == 'online'",
            "labels": {
                "zone": "name",
                "importance": "importance",
                "venue": "venue.name",
                "venue_id": "venue.id",
                "region": "venue.region",
            },
            "latency_seconds": "latency_ms",
            "latency_scale": 0.001,
            "fields": {"volume": "volume"},
        },
        "recheck_url": f"{base}/v1/zones/{{id}}",
        "backoff": {"retries": 0},
    }
    return merge(raw, over)


def vendor_cfg(base: str, **over: Any) -> Any:
    return ADAPTER.validate_python(vendor_raw(base, **over))
