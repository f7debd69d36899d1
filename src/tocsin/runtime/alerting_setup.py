"""Build the alerting side of the runtime: receivers, dispatcher, rules.

Kept apart from `engine.py` so the runtime reads as the pipeline and this
file holds the wiring details of notify + templates + dispatcher.
"""

from __future__ import annotations

import asyncio
import socket

from prometheus_client import CollectorRegistry

from tocsin.alerting.config import AlertmanagerConfig, parse_alertmanager_config
from tocsin.alerting.dispatcher import Dispatcher
from tocsin.clock import Clock
from tocsin.config.loader import LoadedConfig
from tocsin.errors import ConfigError, ConfigProblem
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.dispatch import Receivers
from tocsin.notify.retry import RateLimiter, Retrier
from tocsin.notify.sinks import MetricsSink
from tocsin.storage.store import Store
from tocsin.templating import TemplateSet
from tocsin.templating.alertmanager import alertmanager_template_set, notification_renderer
from tocsin.templating.errors import TemplateError

# Without an alerting section, alerts from rules and the v2 API are still kept,
# grouped and visible in the API; they are just not sent anywhere.
DEFAULT_ALERTING = """
route:
  receiver: "null"
receivers:
  - name: "null"
"""


class StoreKeyValue:
    """The notify package's small key-value state (Slack threads) in the state store."""

    NAMESPACE = "notify"

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def get(self, key: str) -> str | None:
        row = await asyncio.to_thread(self.store.kv_get, self.NAMESPACE, key)
        if not isinstance(row, dict):
            return None
        expires = row.get("expires")
        if expires is not None and expires <= self.clock.now():
            return None
        value = row.get("value")
        return value if isinstance(value, str) else None

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        expires = None if ttl is None else self.clock.now() + ttl
        await asyncio.to_thread(
            self.store.kv_put, self.NAMESPACE, key, {"value": value, "expires": expires}
        )

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.store.kv_delete, self.NAMESPACE, key)


def alerting_config(loaded: LoadedConfig) -> AlertmanagerConfig:
    if loaded.alertmanager is not None:
        return loaded.alertmanager
    return parse_alertmanager_config(DEFAULT_ALERTING, "<default alerting>")


def make_retrier(clock: Clock, registry: CollectorRegistry) -> Retrier:
    """One retrier per process: its metrics are registered once, its rate limits kept."""
    return Retrier(clock, MetricsSink(registry), limiter=RateLimiter(clock))


def apply_rate_limits(retrier: Retrier, loaded: LoadedConfig) -> None:
    """The receivers' `rate_limit` options (alerting_extensions) into the retrier."""
    if retrier.limiter is not None:
        ext = loaded.extensions
        retrier.limiter.configure(ext.rate_limits() if ext is not None else {})


def load_templates(
    cfg: AlertmanagerConfig, clock: Clock | None = None, file: str = "alerting config"
) -> TemplateSet:
    """The config's template files over the defaults; one that does not parse
    is a ConfigError (refused like any other config problem, on reload too;
    the message names the template file and line)."""
    try:
        return alertmanager_template_set(cfg.template_patterns(), clock=clock)
    except TemplateError as exc:
        raise ConfigError([ConfigProblem(file, None, "templates", str(exc))]) from None


def build_receivers(
    cfg: AlertmanagerConfig, store: Store, clock: Clock, retrier: Retrier
) -> Receivers:
    templates = load_templates(cfg, clock)
    deps = IntegrationDeps(
        render=notification_renderer(templates),
        render_html=notification_renderer(templates, html=True),
        clock=clock,
        kv=StoreKeyValue(store, clock),
        hostname=socket.gethostname(),
    )
    return Receivers.build(cfg.receivers, deps, retrier)


def build_dispatcher(
    loaded: LoadedConfig, store: Store, clock: Clock, retrier: Retrier
) -> tuple[Dispatcher, Receivers]:
    """The dispatcher and the receivers it delivers through (close them at stop)."""
    cfg = alerting_config(loaded)
    receivers = build_receivers(cfg, store, clock, retrier)
    apply_rate_limits(retrier, loaded)
    dispatcher = Dispatcher(
        cfg,
        store,
        clock,
        receivers=receivers,
        extensions=loaded.extensions,
        external_url=loaded.config.server.url(),
    )
    return dispatcher, receivers


def reload_dispatcher(
    dispatcher: Dispatcher, loaded: LoadedConfig, receivers: Receivers, retrier: Retrier
) -> None:
    """Switch the dispatcher to the new config and its receivers (built first
    with `build_receivers`, so a receiver that cannot be built refuses the
    reload before anything changed); the caller closes the old receivers."""
    dispatcher.apply_config(alerting_config(loaded), receivers, loaded.extensions)
    apply_rate_limits(retrier, loaded)
