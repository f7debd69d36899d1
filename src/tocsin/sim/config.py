"""Configuration of the fleet simulator and of the faults it injects."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal[
    "zone_outage",
    "venue_outage",
    "flapping",
    "api_5xx",
    "timeout",
    "slow",
    "malformed_json",
    "truncated_json",
    "stale_data",
]

# Faults that take zones offline for real (ground-truth outages), versus faults
# of the API in front of them.
OUTAGE_KINDS: frozenset[str] = frozenset({"zone_outage", "venue_outage", "flapping"})
API_KINDS: frozenset[str] = frozenset(
    {"api_5xx", "timeout", "slow", "malformed_json", "truncated_json", "stale_data"}
)

# Which optional fields each kind accepts; anything else is an error, so a typo
# such as `zone` for `zones` is caught instead of silently ignored.
_ALLOWED: dict[str, frozenset[str]] = {
    "zone_outage": frozenset({"zones", "count"}),
    "venue_outage": frozenset({"venues", "count"}),
    "flapping": frozenset({"zones", "count", "period"}),
    "api_5xx": frozenset({"status", "rate"}),
    "timeout": frozenset({"delay", "rate"}),
    "slow": frozenset({"delay", "rate"}),
    "malformed_json": frozenset({"rate"}),
    "truncated_json": frozenset({"rate"}),
    "stale_data": frozenset(),
}
_KIND_FIELDS = ("zones", "count", "venues", "period", "status", "rate", "delay")

DEFAULT_TIMEOUT_DELAY = 30.0
DEFAULT_SLOW_DELAY = 2.0
DEFAULT_FLAP_PERIOD = 60.0


class FaultSpec(BaseModel):
    """One scenario entry, also the body of `POST /admin/faults`."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    id: str | None = Field(default=None, min_length=1, max_length=64)
    at: float | None = Field(
        default=None,
        ge=0,
        description="Seconds after simulator start; absent means now (admin) or 0 (scenario).",
    )
    duration: float | None = Field(default=None, gt=0, description="Absent: until removed.")
    zones: list[str] | None = Field(default=None, min_length=1)
    venues: list[str] | None = Field(default=None, min_length=1)
    count: int | None = Field(default=None, ge=1, description="Pick this many at random.")
    period: float | None = Field(default=None, gt=0, description="Flapping: full down+up cycle.")
    status: int | None = Field(default=None, ge=500, le=599)
    rate: float | None = Field(default=None, ge=0, le=1, description="Share of requests hit.")
    delay: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check_kind_fields(self) -> FaultSpec:
        allowed = _ALLOWED[self.kind]
        for name in _KIND_FIELDS:
            if getattr(self, name) is not None and name not in allowed:
                raise ValueError(f"field '{name}' does not apply to kind '{self.kind}'")
        if self.kind in ("zone_outage", "flapping") and (self.zones is None) == (
            self.count is None
        ):
            raise ValueError(f"kind '{self.kind}' needs exactly one of 'zones' or 'count'")
        if self.kind == "venue_outage" and (self.venues is None) == (self.count is None):
            raise ValueError("kind 'venue_outage' needs exactly one of 'venues' or 'count'")
        return self

    @property
    def is_outage(self) -> bool:
        return self.kind in OUTAGE_KINDS

    def effective_period(self) -> float:
        return self.period if self.period is not None else DEFAULT_FLAP_PERIOD

    def effective_delay(self) -> float:
        if self.delay is not None:
            return self.delay
        return DEFAULT_TIMEOUT_DELAY if self.kind == "timeout" else DEFAULT_SLOW_DELAY

    def effective_rate(self) -> float:
        return 1.0 if self.rate is None else self.rate

    def effective_status(self) -> int:
        return 503 if self.status is None else self.status


class SimConfig(BaseModel):
    """Everything the simulator needs. Defaults give the demo fleet (10,000 zones)."""

    model_config = ConfigDict(extra="forbid")

    venues: int = Field(default=2000, ge=1, le=99_999)
    zones_per_venue: int = Field(default=5, ge=1, le=16)
    seed: int = 1
    failing_share: float = Field(
        default=0.002, ge=0, le=1, description="Share of zones offline from the start."
    )
    api_key: str | None = Field(default=None, description="If set, /v1 requests must carry it.")
    budget_per_minute: int | None = Field(
        default=None, ge=1, description="Token bucket for /v1 requests; None = unlimited."
    )
    heartbeat_interval: float = Field(
        default=60.0,
        gt=0,
        description="Online zones report last_seen at this granularity (also how often "
        "list pages change when nothing else does).",
    )
    default_page_size: int = Field(default=100, ge=1, le=500)
    max_page_size: int = Field(default=500, ge=1, le=5000)
    faults: list[FaultSpec] = Field(default_factory=list)
    truth_path: Path | None = Field(default=None, description="Ground-truth JSONL output.")
    truth_memory_limit: int = Field(
        default=1_000_000,
        ge=1,
        description="Closed truth records kept in memory for truth() and /admin/truth "
        "(newest first kept); the JSONL file always has them all.",
    )
    page_cache_mb: float = Field(
        default=64, ge=0, description="Memory for serialized list pages; 0 disables the cache."
    )

    @property
    def zones(self) -> int:
        return self.venues * self.zones_per_venue
