"""HTTP plumbing shared by the HTTP integrations.

One place decides what an HTTP outcome means for delivery: 2xx is success,
408/429/5xx and network errors are worth retrying, every other status is a
permanent failure. Error messages name the host, never the full URL, since
webhook URLs (Slack, Teams) carry their secret in the path.
"""

from __future__ import annotations

import email.utils
import functools
import ssl
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from tocsin.notify.fields import plain, problem, read_secret
from tocsin.notify.transport import AiohttpTransport
from tocsin.notify.types import DeliveryFailure

RETRYABLE_STATUS = frozenset({408, 425, 429})
_KNOWN_HTTP_CONFIG = {
    "basic_auth",
    "authorization",
    "bearer_token",
    "bearer_token_file",
    "tls_config",
    "follow_redirects",
    "proxy_url",
    "proxy_from_environment",
    "no_proxy",
    "enable_http2",
    "http_headers",
}
_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_TLS_FIELDS = {
    "ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify", "min_version",
    "max_version",
}  # fmt: skip


@functools.cache
def default_tls() -> ssl.SSLContext:
    """One verifying context per process: building one costs tens of ms."""
    return ssl.create_default_context()


def _given(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keys that carry a value, at every level: config models dump every field."""
    out = {}
    for k, v in plain(mapping or {}).items():
        if isinstance(v, Mapping):
            v = _given(v)
        if v not in (None, "", {}, []):
            out[k] = v
    return out


def _secret(value: Any, file: Any, where: str, field: str) -> str:
    """A secret needed to build a client: a missing one is a config problem."""
    try:
        return read_secret(value or None, file or None, "http_config", field)
    except DeliveryFailure as e:
        raise problem(where, f"http_config.{field}", str(e)) from e


def _extra_headers(spec: Mapping[str, Any], where: str) -> list[tuple[str, str]]:
    """Prometheus `http_headers`: each header's values, secrets and file contents."""
    out = []
    for name, h in spec.items():
        values = [*h.get("values", []), *h.get("secrets", [])]
        values += [_secret(None, f, where, f"http_headers.{name}") for f in h.get("files", [])]
        out += [(name, str(v)) for v in values]
    return out


def tls_context(tls: Mapping[str, Any] | None, where: str) -> ssl.SSLContext:
    """An SSLContext from an Alertmanager `tls_config` (the default when unset)."""
    tls = _given(tls)
    if tls.get("insecure_skip_verify") is False:
        del tls["insecure_skip_verify"]
    if not tls:
        return default_tls()
    if tls.get("cert") or tls.get("key"):
        raise problem(
            where, "tls_config", "inline cert/key are not supported; use cert_file/key_file"
        )
    unknown = set(tls) - _TLS_FIELDS - {"ca"}
    if unknown:
        raise problem(where, "tls_config", f"unknown field(s): {', '.join(sorted(unknown))}")
    try:
        ctx = ssl.create_default_context(
            cafile=tls.get("ca_file") or None, cadata=tls.get("ca") or None
        )
        if tls.get("cert_file"):
            ctx.load_cert_chain(tls["cert_file"], tls.get("key_file") or None)
    except (OSError, ssl.SSLError) as e:
        raise problem(where, "tls_config", f"cannot load certificates: {e}") from e
    for key, attr in (("min_version", "minimum_version"), ("max_version", "maximum_version")):
        if tls.get(key):
            if tls[key] not in _TLS_VERSIONS:
                raise problem(
                    where, f"tls_config.{key}", f"must be one of {', '.join(_TLS_VERSIONS)}"
                )
            setattr(ctx, attr, _TLS_VERSIONS[tls[key]])
    if tls.get("insecure_skip_verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_client(
    http_config: Mapping[str, Any] | None,
    *,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float,
    where: str,
) -> httpx.AsyncClient:
    """An httpx client honouring Alertmanager's `http_config` subset."""
    cfg = _given(http_config)
    unknown = set(cfg) - _KNOWN_HTTP_CONFIG
    if unknown:
        raise problem(where, "http_config", f"unsupported field(s): {', '.join(sorted(unknown))}")
    headers: dict[str, str] = {"User-Agent": "tocsin"}
    auth: httpx.Auth | None = None
    if basic := cfg.get("basic_auth"):
        password = ""
        if basic.get("password") or basic.get("password_file"):
            password = _secret(
                basic.get("password"), basic.get("password_file"), where, "basic_auth.password"
            )
        auth = httpx.BasicAuth(basic.get("username", ""), password)
    authz = cfg.get("authorization") or {}
    if authz.get("credentials") or authz.get("credentials_file"):
        cred = _secret(
            authz.get("credentials"), authz.get("credentials_file"), where, "authorization"
        )
        headers["Authorization"] = f"{authz.get('type') or 'Bearer'} {cred}"
    if cfg.get("bearer_token") or cfg.get("bearer_token_file"):
        token = _secret(cfg.get("bearer_token"), cfg.get("bearer_token_file"), where, "bearer")
        headers["Authorization"] = f"Bearer {token}"
    extra = _extra_headers(cfg.get("http_headers") or {}, where)
    verify = tls_context(cfg.get("tls_config"), where)
    proxy = cfg.get("proxy_url") or None
    if transport is None:
        transport = AiohttpTransport(
            ssl_context=verify,
            proxy=proxy,
            trust_env=bool(cfg.get("proxy_from_environment")),
        )
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        headers=httpx.Headers([*headers.items(), *extra]),
        auth=auth,
        follow_redirects=bool(cfg.get("follow_redirects", True)),
    )


def host_of(url: str) -> str:
    try:
        return httpx.URL(url).host or "?"
    except httpx.InvalidURL:
        return "?"


def retry_after(resp: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = email.utils.parsedate_to_datetime(value) if value else None
    if when is None:
        return None
    date = resp.headers.get("Date")
    now = email.utils.parsedate_to_datetime(date) if date else None
    return max(0.0, (when - now).total_seconds()) if now else None


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    service: str,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; network trouble becomes a retryable DeliveryFailure.

    `json=` bodies are encoded with orjson (several times faster than the
    standard library, which httpx uses).
    """
    if "json" in kwargs:
        body = kwargs.pop("json")
        kwargs["content"] = orjson.dumps(body)
        kwargs["headers"] = {"Content-Type": "application/json", **(kwargs.get("headers") or {})}
    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException as e:
        raise DeliveryFailure(
            f"{service}: timed out talking to {host_of(url)}", retryable=True
        ) from e
    except httpx.InvalidURL as e:
        raise DeliveryFailure(f"{service}: invalid URL: {e}", retryable=False) from e
    except httpx.UnsupportedProtocol as e:
        raise DeliveryFailure(f"{service}: unsupported URL scheme", retryable=False) from e
    except httpx.TransportError as e:
        if _certificate_rejected(e):
            raise DeliveryFailure(
                f"{service}: TLS certificate of {host_of(url)} not trusted: {e}", retryable=False
            ) from e
        raise DeliveryFailure(
            f"{service}: {type(e).__name__} talking to {host_of(url)}: {e}", retryable=True
        ) from e


def _certificate_rejected(e: BaseException) -> bool:
    """True when the server's certificate failed verification: a config problem."""
    seen: BaseException | None = e
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def body_excerpt(resp: httpx.Response, limit: int = 200) -> str:
    text = resp.text.strip().replace("\n", " ")
    return text[:limit]


def check_status(resp: httpx.Response, service: str) -> None:
    """Raise a DeliveryFailure for a non-2xx answer, retryable when it may pass."""
    code = resp.status_code
    if 200 <= code < 300:
        return
    retryable = code >= 500 or code in RETRYABLE_STATUS
    detail = body_excerpt(resp)
    raise DeliveryFailure(
        f"{service}: HTTP {code} from {host_of(str(resp.request.url))}"
        + (f": {detail}" if detail else ""),
        retryable=retryable,
        status_code=code,
        retry_after=retry_after(resp) if retryable else None,
    )
