"""Configuration models of sources (YAML `sources:` list entries).

The lead's loader expands `${ENV}` before validation and composes these into
the top-level config as `sources: SourceConfigList`. Unknown fields are
errors; header values are secrets and never appear in repr, logs or dumps.
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from tocsin.sources.jpath import check_expression

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_STATUS_RANGE = re.compile(r"^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$")

Expression = Annotated[str, AfterValidator(check_expression)]
PositiveFloat = Annotated[float, Field(gt=0)]


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for name in labels:
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise ValueError(
                f"label name {name!r} must match [a-zA-Z_][a-zA-Z0-9_]* and not start with '__'"
            )
    return labels


Labels = Annotated[dict[str, str], AfterValidator(_check_labels)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackoffConfig(_Strict):
    """Retry delays for failed requests within a sweep."""

    initial: PositiveFloat = 1.0
    max: PositiveFloat = 300.0
    multiplier: float = Field(default=2.0, ge=1.0)
    jitter: float = Field(default=0.2, ge=0.0, le=1.0)
    retries: int = Field(default=2, ge=0, le=20)

    @model_validator(mode="after")
    def _initial_below_max(self) -> BackoffConfig:
        if self.initial > self.max:
            raise ValueError(f"initial ({self.initial}) must not exceed max ({self.max})")
        return self


class CircuitBreakerConfig(_Strict):
    failure_threshold: int = Field(default=5, ge=1)
    reset_timeout: float = Field(default=60.0, ge=0)
    half_open_max_calls: int = Field(default=1, ge=1)


class SourceBaseConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    interval: PositiveFloat = 60.0
    timeout: PositiveFloat = 10.0
    concurrency: int = Field(default=8, ge=1, le=1000)
    budget_per_minute: PositiveFloat | None = None
    backoff: BackoffConfig = BackoffConfig()
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    labels: Labels = {}


class HttpBaseConfig(SourceBaseConfig):
    headers: dict[str, SecretStr] = {}
    headers_files: dict[str, Path] = {}

    @field_validator("headers", "headers_files")
    @classmethod
    def _header_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
        return value

    @field_validator("headers_files")
    @classmethod
    def _files_readable(cls, value: dict[str, Path]) -> dict[str, Path]:
        for name, path in value.items():
            if not path.is_file() or not os.access(path, os.R_OK):
                raise ValueError(f"header {name!r}: file {str(path)!r} is missing or unreadable")
        return value

    @model_validator(mode="after")
    def _no_header_twice(self) -> HttpBaseConfig:
        both = {n.lower() for n in self.headers} & {n.lower() for n in self.headers_files}
        if both:
            raise ValueError(
                f"header(s) {sorted(both)} given both in headers and headers_files; keep one"
            )
        return self


# ---------------------------------------------------------------- http_json

PAGE_VARS = frozenset({"page", "page_size", "cursor", "offset"})


def template_fields(template: str) -> set[str]:
    """Names used as {name} in a str.format template (raises ValueError if broken)."""
    return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}


class PaginationConfig(_Strict):
    style: Literal["none", "page", "cursor", "link"] = "none"
    page_param: str = "page"
    size_param: str | None = "page_size"
    page_size: int = Field(default=500, ge=1)
    start_page: int = Field(default=1, ge=0)
    cursor_param: str = "cursor"
    next_cursor: Expression | None = None
    next_page: Expression | None = None
    total: Expression | None = None
    max_pages: int = Field(default=10000, ge=1)

    @model_validator(mode="after")
    def _cursor_needs_next(self) -> PaginationConfig:
        if self.style == "cursor" and not self.next_cursor:
            raise ValueError("style 'cursor' needs next_cursor (a JMESPath to the next cursor)")
        return self


class MappingConfig(_Strict):
    id: Expression
    up: Expression
    unknown_if: Expression | None = None
    labels: dict[str, Expression] = {}
    latency_seconds: Expression | None = None
    latency_scale: PositiveFloat = 1.0
    fields: dict[str, Expression] = {}
    last_seen: Expression | None = None
    stale_after: PositiveFloat | None = None

    @model_validator(mode="after")
    def _stale_needs_last_seen(self) -> MappingConfig:
        if self.stale_after is not None and self.last_seen is None:
            raise ValueError("stale_after needs last_seen (a JMESPath to each item's timestamp)")
        return self

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value)

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _METRIC_NAME.match(name):
                raise ValueError(f"field name {name!r} must match [a-zA-Z_:][a-zA-Z0-9_:]*")
        return value


class HttpJsonSourceConfig(HttpBaseConfig):
    """A vendor's batch status API: one paginated list covers the fleet."""

    type: Literal["http_json"]
    url: str = Field(min_length=1)
    params: dict[str, str | int | float] = {}
    pagination: PaginationConfig = PaginationConfig()
    items: Expression
    mapping: MappingConfig
    recheck_url: str | None = None
    recheck_item: Expression = "@"
    recheck_limit: int = Field(default=100, ge=0)
    etag: bool = True
    etag_cache_size: int = Field(default=1024, ge=0)
    expected_items: int | None = Field(default=None, ge=0)

    @field_validator("url")
    @classmethod
    def _url_template(cls, value: str) -> str:
        try:
            used = template_fields(value)
        except ValueError as exc:
            raise ValueError(f"bad URL template: {exc}") from None
        unknown = used - PAGE_VARS
        if unknown:
            raise ValueError(
                f"URL template uses unknown {sorted(unknown)}; allowed: {sorted(PAGE_VARS)}"
            )
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value

    @field_validator("recheck_url")
    @classmethod
    def _recheck_template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            used = template_fields(value)
        except ValueError as exc:
            raise ValueError(f"bad recheck_url template: {exc}") from None
        if used != {"id"}:
            raise ValueError("recheck_url must use {id} and no other placeholder")
        if not value.startswith(("http://", "https://")):
            raise ValueError("recheck_url must start with http:// or https://")
        return value


# ---------------------------------------------------------------- checks


def parse_status_ranges(spec: str | int | list[int | str]) -> tuple[tuple[int, int], ...]:
    """'200-399', 204, or a list of those, as inclusive (low, high) pairs."""
    items = spec if isinstance(spec, list) else [spec]
    out: list[tuple[int, int]] = []
    for item in items:
        for part in str(item).split(","):
            m = _STATUS_RANGE.match(part)
            if not m:
                raise ValueError(f"{part.strip()!r} is not a status code or range like 200-399")
            low = int(m.group(1))
            high = int(m.group(2) or low)
            if not 100 <= low <= high <= 599:
                raise ValueError(f"status range {low}-{high} outside 100-599 or reversed")
            out.append((low, high))
    return tuple(out)


class ExpectConfig(_Strict):
    status: str | int | list[int | str] = "200-399"
    body_contains: str | None = None
    body_regex: str | None = None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | int | list[int | str]) -> str | int | list[int | str]:
        parse_status_ranges(value)
        return value

    @field_validator("body_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class _Target(_Strict):
    id: str = Field(min_length=1)
    labels: Labels = {}


class HttpCheckTarget(_Target):
    url: str = Field(pattern=r"^https?://")
    expect: ExpectConfig | None = None  # overrides the source's expect


class TcpCheckTarget(_Target):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)


class HeartbeatTarget(_Target):
    period: PositiveFloat
    grace: float = Field(default=60.0, ge=0)


def _unique_ids(targets: list[_Target]) -> None:
    seen: set[str] = set()
    for t in targets:
        if t.id in seen:
            raise ValueError(f"target id {t.id!r} appears more than once")
        seen.add(t.id)


class HttpCheckSourceConfig(HttpBaseConfig):
    type: Literal["http_check"]
    method: Literal["GET", "HEAD", "POST"] = "GET"
    follow_redirects: bool = False
    expect: ExpectConfig = ExpectConfig()
    targets: list[HttpCheckTarget] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> HttpCheckSourceConfig:
        _unique_ids(list(self.targets))
        return self


class TcpCheckSourceConfig(SourceBaseConfig):
    type: Literal["tcp_check"]
    targets: list[TcpCheckTarget] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> TcpCheckSourceConfig:
        _unique_ids(list(self.targets))
        return self


class HeartbeatSourceConfig(SourceBaseConfig):
    """Push targets: each must ping within period + grace."""

    type: Literal["heartbeat"]
    targets: list[HeartbeatTarget] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> HeartbeatSourceConfig:
        _unique_ids(list(self.targets))
        return self


SourceConfig = Annotated[
    HttpJsonSourceConfig | HttpCheckSourceConfig | TcpCheckSourceConfig | HeartbeatSourceConfig,
    Field(discriminator="type"),
]


def _unique_names(sources: list[SourceConfig]) -> list[SourceConfig]:
    seen: set[str] = set()
    for s in sources:
        if s.name in seen:
            raise ValueError(f"source name {s.name!r} is used more than once")
        seen.add(s.name)
    return sources


SourceConfigList = Annotated[list[SourceConfig], AfterValidator(_unique_names)]
