"""JSON bodies of the zone API, with ETags and a page cache per status version.

A list page only changes when the status view changes (a fault event or a new
heartbeat slot), so serialized pages are cached under the view's key and the
whole cache for an old key is dropped when a new key appears.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from tocsin.sim.fleet import ZONE_IMPORTANCE, ZONE_NAMES, Fleet
from tocsin.sim.world import StatusView


def rfc3339(t: float) -> str:
    dt = datetime.fromtimestamp(t, UTC)
    spec = "seconds" if t == int(t) else "milliseconds"
    return dt.isoformat(timespec=spec).replace("+00:00", "Z")


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match header against our ETag."""
    if not if_none_match:
        return False
    bare = etag.removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == bare:
            return True
    return False


class ZoneRenderer:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._ts: dict[float, str] = {}

    def _time(self, t: float) -> str:
        s = self._ts.get(t)
        if s is None:
            if len(self._ts) > 65536:
                self._ts.clear()
            s = self._ts[t] = rfc3339(t)
        return s

    def zone(self, view: StatusView, i: int) -> dict[str, Any]:
        return self.zones(view, range(i, i + 1))[0]

    def zones(self, view: StatusView, indices: range) -> list[dict[str, Any]]:
        """Same items as `zone`, built in one loop: this is the hot path of a sweep."""
        fleet = self.fleet
        zpv = fleet.zones_per_venue
        venue_ids = fleet.venue_ids
        venue_dicts = fleet.venue_dicts
        name_code, volume, latency = fleet.name_code, fleet.volume, fleet.latency_tenths
        offline, changed = view.offline, view.changed
        slot = view.slot_time
        # Latency wanders within ±20% of the zone's base value, once per
        # heartbeat slot, from a cheap multiplicative hash (deterministic).
        jitter_seed = int(slot) * 40503
        slot_str = self._time(slot)
        time_str = self._time
        out: list[dict[str, Any]] = []
        append = out.append
        for i in indices:
            v, k = divmod(i, zpv)
            code = name_code[i]
            if offline[i]:
                status, seen = "offline", time_str(changed[i])
            else:
                c = changed[i]
                status, seen = "online", (slot_str if c <= slot else time_str(c))
            append(
                {
                    "id": f"{venue_ids[v]}-z{k + 1}",
                    "name": ZONE_NAMES[code],
                    "importance": ZONE_IMPORTANCE[code],
                    "venue": venue_dicts[v],
                    "status": status,
                    "volume": volume[i],
                    "latency_ms": (
                        latency[i] * (819 + ((i * 2654435761 + jitter_seed) >> 7) % 410) // 1024
                    )
                    / 10,
                    "last_seen": seen,
                }
            )
        return out


class PageCache:
    """Serialized bodies and ETags keyed per status view, bounded in bytes.

    At most two views are kept (the live one and, while stale data is served,
    the frozen one); going over `max_bytes` drops everything cached.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._by_view: dict[tuple[object, ...], dict[tuple[object, ...], tuple[bytes, str]]] = {}
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(
        self, view_key: tuple[object, ...], key: tuple[object, ...]
    ) -> tuple[bytes, str] | None:
        entries = self._by_view.get(view_key)
        hit = entries.get(key) if entries is not None else None
        if hit is None:
            self.misses += 1
        else:
            self.hits += 1
        return hit

    def put(self, view_key: tuple[object, ...], key: tuple[object, ...], body: bytes) -> str:
        etag = etag_of(body)
        if len(body) > self.max_bytes:
            return etag
        if view_key not in self._by_view:
            while len(self._by_view) >= 2:
                old = self._by_view.pop(next(iter(self._by_view)))
                self.bytes -= sum(len(b) for b, _ in old.values())
            self._by_view[view_key] = {}
        if self.bytes + len(body) > self.max_bytes:
            for entries in self._by_view.values():
                entries.clear()
            self.bytes = 0
        self._by_view[view_key][key] = (body, etag)
        self.bytes += len(body)
        return etag


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def corrupt(body: bytes, how: str) -> bytes:
    """A broken version of a JSON body: cut in half, or with an invalid first item."""
    if how == "truncated_json":
        return body[: max(1, len(body) // 2)]
    broken = body.replace(b'"zones":[', b'"zones":[{"id":,', 1)
    return broken if broken != body else body[:-1] + b",}"
