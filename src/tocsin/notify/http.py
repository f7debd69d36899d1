"""HTTP plumbing shared by the HTTP integrations.

One place decides what an HTTP outcome means for delivery: 2xx is success,
408/429/5xx and network errors are worth retrying, every other status is a
permanent failure. Error messages name the host, never the full URL, since
webhook URLs (Slack, Teams) carry their secret in the path.

Requests go through aiohttp directly (see docs/bench/sources.md and
docs/bench/notify.md for why): one `aiohttp.ClientSession` per receivers set
(`SharedSession`), and per integration an `HttpClient` that applies its
`http_config` (headers, auth, TLS, proxy, redirects, timeout) to each request.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ipaddress
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from tocsin.notify.fields import plain, problem, read_secret
from tocsin.notify.types import DeliveryFailure

RETRYABLE_STATUS = frozenset({408, 425, 429})
# Integrations set these themselves (or deliberately leave them out).
_SKIP_AUTO_HEADERS = ("User-Agent", "Content-Type")
_CACHED = 256
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


class SharedSession:
    """The one aiohttp session of a receivers set, created on first use.

    An injected session (tests, an embedding process) is used as is and left
    open: its owner closes it. One created here is closed by `aclose()`.
    """

    def __init__(self, session: aiohttp.ClientSession | None = None, limit_per_host: int = 100):
        self._injected = session
        self._own: aiohttp.ClientSession | None = None
        self._limit_per_host = limit_per_host

    def get(self) -> aiohttp.ClientSession:
        if self._injected is not None:
            return self._injected
        if self._own is None or self._own.closed:
            # Integrations used to have a pool each; a per-host cap keeps that
            # bound without one busy receiver starving the others.
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=self._limit_per_host)
            # Proxies are chosen per request (config or environment), never by
            # the session from the environment behind the config's back. No
            # cookie jar, as Alertmanager's HTTP client keeps none (and looking
            # cookies up costs on every request); the integrations set their
            # own User-Agent and Content-Type.
            self._own = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=_SKIP_AUTO_HEADERS,
            )
        return self._own

    async def aclose(self) -> None:
        if self._own is not None:
            await self._own.close()
            self._own = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A read answer: the body is complete, the connection already released."""

    status_code: int
    headers: CIMultiDictProxy[str]
    content: bytes
    url: str
    charset: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode(self.charset or "utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not."""
        return orjson.loads(self.content)


def _proxy_from_environment(url: str) -> str | None:
    """HTTP(S)_PROXY for the URL's scheme, unless NO_PROXY covers its host."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme)
    # On POSIX, proxy_bypass reads NO_PROXY from the environment.
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def _bypasses(host: str, no_proxy: list[str]) -> bool:
    """Prometheus `no_proxy`: hosts, domain suffixes (`.example.com`), IP networks, `*`."""
    host = host.lower().strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy:
        entry = entry.lower().lstrip("*").strip("[]")
        if entry in ("", "."):
            return True
        if "/" in entry and address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry.lstrip(".")
        # Suffixes match names only: 127.0.0.1 is not "under" .0.0.1.
        if host == domain or (address is None and host.endswith("." + domain)):
            return True
    return False


class HttpClient:
    """One integration's `http_config` applied to requests on the shared session."""

    def __init__(
        self,
        session: SharedSession,
        *,
        headers: list[tuple[str, str]],
        tls: ssl.SSLContext,
        server_name: str | None,
        proxy: str | None,
        no_proxy: list[str],
        proxy_from_environment: bool,
        follow_redirects: bool,
        timeout: float,
    ) -> None:
        self._session = session
        self._headers = headers
        self._tls = tls
        self._server_name = server_name
        self._proxy = proxy
        self._no_proxy = no_proxy
        self._proxy_env = proxy_from_environment
        self._redirects = follow_redirects
        self._header_cache: dict[tuple[tuple[str, str], ...], CIMultiDict[str]] = {}
        # aiohttp's `connect` includes the wait for a free pooled connection;
        # under a burst that queue is long and is not a failure of the server,
        # so only the socket connect and reads are limited here. The retrier's
        # attempt timeout still bounds the whole request.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=timeout, sock_read=timeout
        )

    def _proxy_for(self, url: str) -> str | None:
        if self._proxy:
            host = urlsplit(url).hostname or ""
            return None if _bypasses(host, self._no_proxy) else self._proxy
        if self._proxy_env:
            return _proxy_from_environment(url)
        return None

    def _merged_headers(self, extra: Mapping[str, str] | None) -> CIMultiDict[str]:
        # Most requests of an integration carry the same headers: merge once.
        # aiohttp copies the headers it is given, so sharing them is safe.
        key = tuple(extra.items()) if extra else ()
        headers = self._header_cache.get(key)
        if headers is None:
            # CIMultiDict keeps each name's spelling on the wire and repeated
            # `http_headers` values; a request's own header replaces the default.
            headers = CIMultiDict(self._headers)
            for name, value in key:
                headers[name] = value
            if len(self._header_cache) >= _CACHED:  # per-request values (Slack threads)
                self._header_cache.clear()
            self._header_cache[key] = headers
        return headers

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        session = self._session.get()
        async with session.request(
            method,
            _parsed(url),
            data=content,
            headers=self._merged_headers(headers),
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            ssl=self._tls,
            server_hostname=self._server_name,
            proxy=self._proxy_for(url),
            allow_redirects=self._redirects,
            timeout=self._timeout,
        ) as resp:
            body = await resp.read()
            return HttpResponse(resp.status, resp.headers, body, str(resp.url), resp.charset)


@functools.lru_cache(maxsize=_CACHED)
def _parsed(url: str) -> URL | str:
    """The URL parsed once (integrations send to a few fixed URLs); one that
    does not parse goes to aiohttp as it is, which reports it as before."""
    try:
        return URL(url)
    except (ValueError, TypeError):
        return url


def make_client(
    http_config: Mapping[str, Any] | None,
    *,
    session: SharedSession,
    timeout: float,
    where: str,
) -> HttpClient:
    """An HTTP client honouring Alertmanager's `http_config` subset."""
    cfg = _given(http_config)
    unknown = set(cfg) - _KNOWN_HTTP_CONFIG
    if unknown:
        raise problem(where, "http_config", f"unsupported field(s): {', '.join(sorted(unknown))}")
    headers: dict[str, str] = {"User-Agent": "tocsin"}
    authz = cfg.get("authorization") or {}
    if authz.get("credentials") or authz.get("credentials_file"):
        cred = _secret(
            authz.get("credentials"), authz.get("credentials_file"), where, "authorization"
        )
        headers["Authorization"] = f"{authz.get('type') or 'Bearer'} {cred}"
    if cfg.get("bearer_token") or cfg.get("bearer_token_file"):
        token = _secret(cfg.get("bearer_token"), cfg.get("bearer_token_file"), where, "bearer")
        headers["Authorization"] = f"Bearer {token}"
    if basic := cfg.get("basic_auth"):
        password = ""
        if basic.get("password") or basic.get("password_file"):
            password = _secret(
                basic.get("password"), basic.get("password_file"), where, "basic_auth.password"
            )
        try:
            # A header, not aiohttp's auth=: aiohttp still drops it on a
            # redirect to another origin, and a request's own Authorization
            # (Slack's app_token) may replace it.
            headers["Authorization"] = aiohttp.encode_basic_auth(
                basic.get("username", ""), password
            )
        except ValueError as e:
            raise problem(where, "http_config.basic_auth.username", str(e)) from e
    extra = _extra_headers(cfg.get("http_headers") or {}, where)
    no_proxy = cfg.get("no_proxy") or ""
    if isinstance(no_proxy, str):
        no_proxy = no_proxy.split(",")
    return HttpClient(
        session,
        headers=[*headers.items(), *extra],
        tls=tls_context(cfg.get("tls_config"), where),
        server_name=(cfg.get("tls_config") or {}).get("server_name") or None,
        proxy=cfg.get("proxy_url") or None,
        no_proxy=[str(h).strip() for h in no_proxy if str(h).strip()],
        proxy_from_environment=bool(cfg.get("proxy_from_environment")),
        follow_redirects=bool(cfg.get("follow_redirects", True)),
        timeout=timeout,
    )


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def retry_after(resp: HttpResponse) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date = resp.headers.get("Date")
    try:
        now = email.utils.parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds()) if now else None


async def send(
    client: HttpClient,
    method: str,
    url: str,
    service: str,
    *,
    json: Any = None,
    content: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """Send one request; network trouble becomes a retryable DeliveryFailure.

    `json=` bodies are encoded with orjson (several times faster than the
    standard library).
    """
    if isinstance(content, str):
        content = content.encode()
    if json is not None:
        content = orjson.dumps(json)
        headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        return await client.request(method, url, content=content, headers=headers)
    except TimeoutError as e:
        raise DeliveryFailure(
            f"{service}: timed out talking to {host_of(url)}", retryable=True
        ) from e
    except aiohttp.NonHttpUrlClientError as e:
        raise DeliveryFailure(f"{service}: unsupported URL scheme", retryable=False) from e
    except aiohttp.InvalidURL as e:
        raise DeliveryFailure(f"{service}: invalid URL: {e}", retryable=False) from e
    except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as e:
        if _certificate_rejected(e):
            raise DeliveryFailure(
                f"{service}: TLS certificate of {host_of(url)} not trusted: {e}", retryable=False
            ) from e
        raise DeliveryFailure(
            f"{service}: {type(e).__name__} talking to {host_of(url)}: {e}", retryable=True
        ) from e
    except ValueError as e:
        # After ClientError, as certificate errors are ValueErrors too. Here
        # yarl rejects a malformed URL, or aiohttp a header with a line break:
        # resending the same request cannot succeed.
        raise DeliveryFailure(f"{service}: invalid request: {e}", retryable=False) from e


def _certificate_rejected(e: BaseException) -> bool:
    """True when the server's certificate failed verification: a config problem."""
    if isinstance(e, aiohttp.ClientConnectorCertificateError):
        return True
    seen: BaseException | None = e
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def body_excerpt(resp: HttpResponse, limit: int = 200) -> str:
    text = resp.text.strip().replace("\n", " ")
    return text[:limit]


def check_status(resp: HttpResponse, service: str) -> None:
    """Raise a DeliveryFailure for a non-2xx answer, retryable when it may pass."""
    code = resp.status_code
    if 200 <= code < 300:
        return
    retryable = code >= 500 or code in RETRYABLE_STATUS
    detail = body_excerpt(resp)
    raise DeliveryFailure(
        f"{service}: HTTP {code} from {host_of(resp.url)}" + (f": {detail}" if detail else ""),
        retryable=retryable,
        status_code=code,
        retry_after=retry_after(resp) if retryable else None,
    )
