"""The simulated fleet: venues and zones, generated deterministically from a seed.

Per-zone data lives in flat arrays indexed by zone number (venue index times
zones-per-venue plus zone offset), so 100,000 zones cost a few bytes each
instead of a Python object each. Ids and names are derived on demand.
"""

from __future__ import annotations

import random
import re
from array import array
from dataclasses import dataclass

# Region -> (IANA time zone, city) pairs; a venue's time zone always matches its region.
REGIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "eu-north": (
        ("Europe/Stockholm", "Stockholm"),
        ("Europe/Oslo", "Oslo"),
        ("Europe/Helsinki", "Helsinki"),
        ("Europe/Copenhagen", "Copenhagen"),
    ),
    "eu-west": (
        ("Europe/London", "London"),
        ("Europe/Dublin", "Dublin"),
        ("Europe/Paris", "Paris"),
        ("Europe/Amsterdam", "Amsterdam"),
        ("Europe/Madrid", "Madrid"),
    ),
    "us-east": (
        ("America/New_York", "New York"),
        ("America/Toronto", "Toronto"),
        ("America/Chicago", "Chicago"),
    ),
    "us-west": (
        ("America/Los_Angeles", "Los Angeles"),
        ("America/Denver", "Denver"),
        ("America/Vancouver", "Vancouver"),
    ),
    "apac": (
        ("Asia/Tokyo", "Tokyo"),
        ("Asia/Singapore", "Singapore"),
        ("Australia/Sydney", "Sydney"),
        ("Asia/Seoul", "Seoul"),
    ),
}
REGION_NAMES: tuple[str, ...] = tuple(REGIONS)

OPENING_HOURS: tuple[str, ...] = (
    "08:00-23:00",
    "10:00-22:00",
    "07:00-19:00",
    "11:00-01:00",
    "16:00-02:00",
    "00:00-24:00",
)

_ADJECTIVES = (
    "Blue", "Golden", "Silver", "Green", "Red", "Little", "Grand", "Old", "Royal", "Urban",
    "Velvet", "Copper", "Quiet", "Lucky", "Wild", "Northern",
)  # fmt: skip
_NOUNS = (
    "Fox", "Anchor", "Lantern", "Harbor", "Garden", "Oak", "Crown", "Bridge", "Mill",
    "Owl", "Compass", "Falcon", "Orchard", "Tide", "Pine", "Bell",
)  # fmt: skip
_KINDS = ("Bistro", "Hotel", "Café", "Bar", "Gym", "Store", "Lounge", "Brasserie")

IMPORTANCE: tuple[str, ...] = ("critical", "normal", "back-office")

# Zone names and their importance. Zone 1 of every venue is the Lobby; the
# others are drawn from this list without repetition.
ZONE_NAMES: tuple[str, ...] = (
    "Lobby", "Bar", "Dining", "Terrace", "Office", "Lounge", "Reception", "Patio",
    "Kitchen", "Gym", "Spa", "Pool", "Staff Room", "Storage", "Entrance", "Courtyard",
)  # fmt: skip
_CRITICAL = {"Lobby", "Reception", "Entrance"}
_BACK_OFFICE = {"Office", "Kitchen", "Staff Room", "Storage"}
MAX_ZONES_PER_VENUE = len(ZONE_NAMES)


def zone_importance(name: str) -> str:
    if name in _CRITICAL:
        return "critical"
    if name in _BACK_OFFICE:
        return "back-office"
    return "normal"


# Importance of each entry of ZONE_NAMES, by position.
ZONE_IMPORTANCE: tuple[str, ...] = tuple(zone_importance(n) for n in ZONE_NAMES)

_ZONE_ID = re.compile(r"^v(\d{5,})-z(\d+)$")
_VENUE_ID = re.compile(r"^v(\d{5,})$")


@dataclass(frozen=True, slots=True)
class Venue:
    id: str
    name: str
    region: str
    timezone: str
    opening_hours: str

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "timezone": self.timezone,
            "opening_hours": self.opening_hours,
        }


class Fleet:
    """N venues x M zones. Static facts only; status lives in `World`."""

    def __init__(self, venues: int, zones_per_venue: int, seed: int) -> None:
        if venues < 1:
            raise ValueError(f"venues must be >= 1, got {venues}")
        if not 1 <= zones_per_venue <= MAX_ZONES_PER_VENUE:
            raise ValueError(
                f"zones_per_venue must be between 1 and {MAX_ZONES_PER_VENUE}, "
                f"got {zones_per_venue}"
            )
        self.zones_per_venue = zones_per_venue
        self.size = venues * zones_per_venue
        rng = random.Random(seed)
        self.venues: list[Venue] = []
        self.venue_dicts: list[dict[str, str]] = []
        self.venue_ids: list[str] = []
        for v in range(venues):
            region = REGION_NAMES[rng.randrange(len(REGION_NAMES))]
            tz, city = rng.choice(REGIONS[region])
            name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_KINDS)} {city}"
            venue = Venue(
                id=f"v{v + 1:05d}",
                name=name,
                region=region,
                timezone=tz,
                opening_hours=rng.choice(OPENING_HOURS),
            )
            self.venues.append(venue)
            self.venue_dicts.append(venue.as_dict())
            self.venue_ids.append(venue.id)
        # Per zone: index into ZONE_NAMES, volume 0-100, latency in tenths of a ms.
        self.name_code = array("B", bytes(self.size))
        self.volume = array("B", bytes(self.size))
        self.latency_tenths = array("H", bytes(2 * self.size))
        others = list(range(1, len(ZONE_NAMES)))
        for v in range(venues):
            picks = [0, *rng.sample(others, zones_per_venue - 1)]
            base = v * zones_per_venue
            for k, code in enumerate(picks):
                self.name_code[base + k] = code
        for i in range(self.size):
            self.volume[i] = rng.randrange(20, 81)
            self.latency_tenths[i] = int(min(rng.lognormvariate(2.5, 0.5), 6000.0) * 10) + 10

    def __len__(self) -> int:
        return self.size

    def zone_id(self, i: int) -> str:
        v, k = divmod(i, self.zones_per_venue)
        return f"v{v + 1:05d}-z{k + 1}"

    def zone_name(self, i: int) -> str:
        return ZONE_NAMES[self.name_code[i]]

    def zone_importance(self, i: int) -> str:
        return ZONE_IMPORTANCE[self.name_code[i]]

    def venue_of(self, i: int) -> int:
        return i // self.zones_per_venue

    def zone_index(self, zone_id: str) -> int | None:
        """Index of a zone id such as `v00001-z1`, or None if the fleet has no such zone."""
        m = _ZONE_ID.match(zone_id)
        if not m:
            return None
        v, k = int(m.group(1)) - 1, int(m.group(2)) - 1
        if not (0 <= v < len(self.venues) and 0 <= k < self.zones_per_venue):
            return None
        i = v * self.zones_per_venue + k
        # Reject non-canonical spellings (v1-z1, v000001-z1) so ids round-trip.
        return i if self.zone_id(i) == zone_id else None

    def venue_index(self, venue_id: str) -> int | None:
        m = _VENUE_ID.match(venue_id)
        if not m:
            return None
        v = int(m.group(1)) - 1
        if not 0 <= v < len(self.venues) or self.venues[v].id != venue_id:
            return None
        return v

    def venue_zone_range(self, v: int) -> range:
        base = v * self.zones_per_venue
        return range(base, base + self.zones_per_venue)
