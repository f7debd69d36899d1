"""Configuration of the time-series store and of Prometheus-style scraping.

Durations use Prometheus's syntax (`15s`, `1m30s`, `90d`); the YAML shape of
`scrape_configs` follows Prometheus's so existing job definitions paste in.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    field_validator,
    model_validator,
)

from tocsin.goregex import GoRegexError, compile_go_regex

_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as `1h30m`; ValueError if malformed."""
    m = _DURATION.match(text.strip())
    if not text.strip() or m is None or not any(m.groups()):
        raise ValueError(f"not a valid duration {text!r} (expected e.g. 15s, 1m30s, 2h, 90d)")
    return float(sum(int(g) * unit for g, unit in zip(m.groups(), _UNIT_SECONDS, strict=True) if g))


def format_duration(seconds: float) -> str:
    """The shortest Prometheus duration for `seconds` (inverse of parse_duration)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            out += f"{n}{unit}"
    return out


def _duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a duration must be a string like 15s, not a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"a duration must be a string like 15s, got {type(value).__name__}")


Duration = Annotated[
    float, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)
]
"""Seconds, written in YAML as a Prometheus duration."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DownsamplingLevel(_Strict):
    """One rollup resolution: min/max/sum/count/last per bucket of `resolution`."""

    resolution: Duration
    retention: Duration | None = None
    """How long rollups of this resolution are kept; defaults to storage.retention."""

    @field_validator("resolution")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v < 1 or v != int(v):
            raise ValueError("resolution must be a whole number of seconds >= 1s")
        return v


def _default_levels() -> list[DownsamplingLevel]:
    return [DownsamplingLevel(resolution=300.0), DownsamplingLevel(resolution=3600.0)]


BLOCK_SECONDS = 2 * 3600.0
"""Chunks are cut per series per aligned block of this length."""


class StorageConfig(_Strict):
    """`storage:` - where and how long samples are kept."""

    retention: Duration = 90 * 86400.0
    flush_interval: Duration = 60.0
    head_window: Duration = 3 * 3600.0
    downsampling: list[DownsamplingLevel] = Field(default_factory=_default_levels)

    @model_validator(mode="after")
    def _check(self) -> StorageConfig:
        if self.flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        if self.head_window < BLOCK_SECONDS + 600:
            raise ValueError(
                "head_window must be at least 2h10m: a 2h block is compacted from the head "
                "after it closes"
            )
        if self.retention < self.head_window:
            raise ValueError("retention must not be shorter than head_window")
        for level in self.downsampling:
            if (BLOCK_SECONDS % level.resolution) != 0:
                raise ValueError(
                    f"downsampling resolution {format_duration(level.resolution)} must divide 2h"
                )
        return self


class BasicAuth(_Strict):
    username: str
    password: SecretStr | None = None
    password_file: str | None = None

    @model_validator(mode="after")
    def _one_password(self) -> BasicAuth:
        if self.password is not None and self.password_file is not None:
            raise ValueError("at most one of password and password_file may be set")
        return self


class Authorization(_Strict):
    type: str = "Bearer"
    credentials: SecretStr | None = None
    credentials_file: str | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> Authorization:
        if (self.credentials is None) == (self.credentials_file is None):
            raise ValueError("exactly one of credentials and credentials_file must be set")
        if self.type.lower() == "basic":
            raise ValueError("authorization type Basic is not allowed; use basic_auth")
        return self


class StaticConfig(_Strict):
    targets: list[str]
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _hostports(cls, v: list[str]) -> list[str]:
        for t in v:
            if not t or "/" in t or " " in t:
                raise ValueError(f"target {t!r} must be host:port (no scheme or path)")
        return v

    @field_validator("labels")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid label name")
        return v


RelabelAction = Literal["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep"]


class RelabelConfig(_Strict):
    """One metric relabelling step, with Prometheus's defaults."""

    source_labels: list[str] = Field(default_factory=list)
    separator: str = ";"
    regex: str = "(.*)"
    target_label: str | None = None
    replacement: str = "$1"
    action: RelabelAction = "replace"

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        # Prometheus's regexes are Go's (RE2): `[[:digit:]]` or a mid-pattern
        # `(?i)` mean something else to Python's re, so read them as Go does.
        try:
            compile_go_regex(v, anchored=True, dotall=True)
        except GoRegexError as exc:
            raise ValueError(f"invalid regex {v!r}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _needs(self) -> RelabelConfig:
        if self.action == "replace" and not self.target_label:
            raise ValueError("relabel action replace needs target_label")
        if self.action in ("keep", "drop") and not self.source_labels:
            raise ValueError(f"relabel action {self.action} needs source_labels")
        if self.action in ("labeldrop", "labelkeep") and (self.source_labels or self.target_label):
            raise ValueError(f"relabel action {self.action} takes only regex")
        return self


class ScrapeConfig(_Strict):
    """One `scrape_configs` entry, Prometheus's shape."""

    job_name: str
    scrape_interval: Duration = 60.0
    scrape_timeout: Duration = 10.0
    metrics_path: str = "/metrics"
    scheme: Literal["http", "https"] = "http"
    params: dict[str, list[str]] = Field(default_factory=dict)
    honor_labels: bool = False
    honor_timestamps: bool = True
    static_configs: list[StaticConfig] = Field(default_factory=list)
    metric_relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    sample_limit: int = 0
    """0 means no limit; above it the whole scrape fails, as in Prometheus."""

    @model_validator(mode="before")
    @classmethod
    def _default_timeout(cls, data: Any) -> Any:
        # As Prometheus: without its own timeout a job gets the default (10s),
        # cut to its interval when that is shorter, rather than an error.
        if isinstance(data, dict) and data.get("scrape_timeout") is None:
            try:
                interval = _duration(data.get("scrape_interval", 60.0))
            except ValueError:
                return data  # the field's own validation reports it
            data = {**data, "scrape_timeout": min(10.0, interval) if interval > 0 else 10.0}
        return data

    @model_validator(mode="after")
    def _check(self) -> ScrapeConfig:
        if not self.job_name:
            raise ValueError("job_name must not be empty")
        if self.scrape_interval <= 0:
            raise ValueError("scrape_interval must be positive")
        if self.scrape_timeout > self.scrape_interval:
            raise ValueError("scrape_timeout must not be greater than scrape_interval")
        if self.basic_auth is not None and self.authorization is not None:
            raise ValueError("at most one of basic_auth and authorization may be set")
        if not self.metrics_path.startswith("/"):
            raise ValueError("metrics_path must start with /")
        return self


class TsdbConfig(_Strict):
    """The `storage:` and `scrape_configs:` parts of tocsin's config."""

    storage: StorageConfig = Field(default_factory=StorageConfig)
    scrape_configs: list[ScrapeConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_jobs(self) -> TsdbConfig:
        seen: set[str] = set()
        for sc in self.scrape_configs:
            if sc.job_name in seen:
                raise ValueError(f"duplicate job_name {sc.job_name!r} in scrape_configs")
            seen.add(sc.job_name)
        return self
