from __future__ import annotations

from typing import Any

from tocsin.detect.labels import LabelMap, TupleMap
from tocsin.sources.config import MappingConfig
from tocsin.sources.mapping import ItemMapper

CFG = MappingConfig.model_validate(
    {
        "id": "id",
        "up": "status == 'online'",
        "labels": {"zone": "name", "venue": "venue", "floor": "floor", "env": "env"},
        "latency_seconds": "latency_ms",
        "latency_scale": 0.001,
        "fields": {"volume": "volume", "battery": "battery"},
    }
)


def _item(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"z{i}",
        "status": "online",
        "name": "".join(["Lob", "by"]),  # a fresh string object each time
        "venue": f"v{i // 5}",
        "floor": 2,
        "latency_ms": 12.5,
        "volume": i % 3,
        **extra,
    }


def test_observations_are_compact_and_share_what_repeats() -> None:
    mapper = ItemMapper(CFG, {"env": "prod"})
    a, b = mapper.map(_item(1), 0.0), mapper.map(_item(4), 0.0)
    assert a.labels == {"env": "prod", "zone": "Lobby", "venue": "v0", "floor": "2"}
    assert isinstance(a.labels, LabelMap)
    assert isinstance(a.fields, TupleMap)
    assert a.labels["zone"] is b.labels["zone"]
    assert a.labels["venue"] is b.labels["venue"]
    assert a.latency == 0.0125
    assert a.latency is b.latency
    # No battery in the item: the field is left out, as a missing label is.
    assert a.fields == {"volume": 1.0}
    assert a.fields is b.fields
    assert mapper.map(_item(2), 0.0).fields == {"volume": 2.0}
    assert mapper.map(_item(3, floor=None), 0.0).labels == {
        "env": "prod",
        "zone": "Lobby",
        "venue": "v0",
    }


def test_a_new_version_of_a_page_keeps_the_old_id_and_labels_when_equal() -> None:
    mapper = ItemMapper(CFG, {})
    old = mapper.map(_item(7), 0.0)
    new = mapper.map(_item(7, status="offline"), 60.0, like=old)
    assert new.up is False
    assert new.at == 60.0
    assert new.target_id is old.target_id
    assert new.labels is old.labels
    moved = mapper.map(_item(7, name="Bar"), 60.0, like=old)
    assert moved.labels["zone"] == "Bar"
    assert moved.labels is not old.labels
    other = mapper.map(_item(8), 60.0, like=old)
    assert other.target_id == "z8"
