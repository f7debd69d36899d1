"""Field types and shared blocks of an Alertmanager config (http_config, tls_config).

Every model forbids unknown keys, as Alertmanager's strict YAML decoding does:
a misspelt key is an error, never silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from tocsin.alerting.config.durations import parse_go_duration, parse_prom_duration


class StrictModel(BaseModel):
    """Base of every config block: unknown keys are errors; field names are YAML keys."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=False)


def _scalar_to_str(v: Any) -> Any:
    # Go's YAML decoder reads any scalar into a string field as written
    # (`test: 2` is "2"); PyYAML has already typed it, so undo that.
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return v


def _none_to_empty(v: Any) -> Any:
    return "" if v is None else _scalar_to_str(v)


YamlStr = Annotated[str, BeforeValidator(_scalar_to_str)]
"""A string field that, like Go's decoder, takes numbers and booleans as text."""

NullableStr = Annotated[str, BeforeValidator(_none_to_empty)]
"""A string where an empty YAML value (`key:`) means the empty string."""


def _duration(v: Any) -> Any:
    if isinstance(v, str):
        return parse_prom_duration(v)
    if isinstance(v, int) and v == 0:
        return 0.0
    raise ValueError(f"not a valid duration: {v!r} (expected e.g. 30s, 5m, 1h30m, 1d)")


def _go_duration(v: Any) -> Any:
    if isinstance(v, str):
        return parse_go_duration(v)
    if isinstance(v, int) and v == 0:
        return 0.0
    raise ValueError(f"not a valid duration: {v!r} (expected e.g. 10s, 1m30s)")


Duration = Annotated[float, BeforeValidator(_duration)]
"""Prometheus duration (`30s`, `1h30m`, `1d`) as seconds."""

GoDuration = Annotated[float, BeforeValidator(_go_duration)]
"""Go duration (`1.5s`, `300ms`) as seconds."""


def check_url(v: str, *, templated_ok: bool = False) -> str:
    """An http(s) URL with a host, as Alertmanager's URL type requires."""
    if templated_ok and "{{" in v:
        return v
    try:
        parts = urlsplit(v)
    except ValueError as exc:
        raise ValueError(f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {parts.scheme!r} for URL")
    if not parts.netloc:
        raise ValueError("host for URL must not be empty")
    return v


def _url(v: str) -> str:
    return check_url(v)


def _secret_url(v: SecretStr) -> SecretStr:
    check_url(v.get_secret_value())
    return v


def _templated_secret_url(v: SecretStr) -> SecretStr:
    check_url(v.get_secret_value(), templated_ok=True)
    return v


URL = Annotated[str, AfterValidator(_url)]
SecretURL = Annotated[SecretStr, AfterValidator(_secret_url)]
SecretTemplateURL = Annotated[SecretStr, AfterValidator(_templated_secret_url)]


def _host_port(v: Any) -> Any:
    if not isinstance(v, str):
        raise ValueError("expected host:port")
    if v == "":
        return v
    host, sep, port = v.rpartition(":")
    if not sep or not host:
        raise ValueError(f"address {v!r}: missing port in address")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"address {v!r}: bad IPv6 brackets")
    if port == "":
        raise ValueError(f"address {v!r}: port cannot be empty")
    return v


HostPort = Annotated[str, BeforeValidator(_host_port)]
"""SMTP `host:port` (the port is required)."""


def exclusive(obj: BaseModel, *names: str) -> None:
    """At most one of the named fields may be set."""
    given = [n for n in names if getattr(obj, n) not in (None, "")]
    if len(given) > 1:
        raise ValueError("at most one of " + " & ".join(names) + " must be configured")


class TLSConfig(StrictModel):
    ca: SecretStr | None = None
    cert: SecretStr | None = None
    key: SecretStr | None = None
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    ca_ref: str = ""
    cert_ref: str = ""
    key_ref: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""
    max_version: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> TLSConfig:
        exclusive(self, "ca", "ca_file", "ca_ref")
        exclusive(self, "cert", "cert_file", "cert_ref")
        exclusive(self, "key", "key_file", "key_ref")
        return self


class BasicAuth(StrictModel):
    username: str = ""
    username_file: str = ""
    username_ref: str = ""
    password: SecretStr | None = None
    password_file: str = ""
    password_ref: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> BasicAuth:
        exclusive(self, "username", "username_file", "username_ref")
        exclusive(self, "password", "password_file", "password_ref")
        return self


class Authorization(StrictModel):
    type: str = "Bearer"
    credentials: SecretStr | None = None
    credentials_file: str = ""
    credentials_ref: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> Authorization:
        if self.type.lower() == "basic":
            raise ValueError('authorization type cannot be set to "basic", use "basic_auth"')
        exclusive(self, "credentials", "credentials_file", "credentials_ref")
        return self


class OAuth2(StrictModel):
    client_id: str = ""
    client_secret: SecretStr | None = None
    client_secret_file: str = ""
    client_secret_ref: str = ""
    scopes: list[str] = Field(default_factory=list)
    token_url: str
    endpoint_params: dict[str, str] = Field(default_factory=dict)
    tls_config: TLSConfig | None = None
    proxy_url: str = ""
    no_proxy: str = ""
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[SecretStr]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> OAuth2:
        exclusive(self, "client_secret", "client_secret_file", "client_secret_ref")
        return self


class HTTPHeader(StrictModel):
    values: list[str] = Field(default_factory=list)
    secrets: list[SecretStr] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)


class HTTPConfig(StrictModel):
    """Prometheus' common HTTP client settings (`http_config`)."""

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    oauth2: OAuth2 | None = None
    bearer_token: SecretStr | None = None
    bearer_token_file: str = ""
    tls_config: TLSConfig | None = None
    proxy_url: str = ""
    no_proxy: str = ""
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[SecretStr]] = Field(default_factory=dict)
    follow_redirects: bool = True
    enable_http2: bool = True
    http_headers: dict[str, HTTPHeader] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_auth(self) -> HTTPConfig:
        exclusive(self, "bearer_token", "bearer_token_file")
        kinds = [
            k
            for k, set_ in (
                ("basic_auth", self.basic_auth is not None),
                ("authorization", self.authorization is not None),
                ("oauth2", self.oauth2 is not None),
                ("bearer_token", bool(self.bearer_token or self.bearer_token_file)),
            )
            if set_
        ]
        if len(kinds) > 1:
            raise ValueError("at most one of " + ", ".join(kinds) + " must be configured")
        if self.proxy_from_environment and (self.proxy_url or self.no_proxy):
            raise ValueError(
                "if proxy_from_environment is configured, proxy_url and no_proxy must not"
            )
        if self.no_proxy and not self.proxy_url:
            raise ValueError("if no_proxy is configured, proxy_url must also be configured")
        return self
