"""Integration kinds by name, and building a receiver's integrations.

Each kind lives in its own module with a `build(config, deps, where)`
function; modules load on first use so that a process that never sends
through Apprise never imports it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from tocsin.alerting.config.receivers import UNSUPPORTED_KINDS
from tocsin.errors import ConfigError, ConfigProblem
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.fields import plain
from tocsin.notify.types import Integration


class Builder(Protocol):
    def __call__(self, data: Any, deps: IntegrationDeps, where: str) -> Integration: ...


# kind -> "module" (its `build`) or "module:function". The receiver key is
# f"{kind}_configs", as in Alertmanager.
KINDS: dict[str, str] = {
    "webhook": "tocsin.notify.webhook",
    "slack": "tocsin.notify.slack",
    "msteams": "tocsin.notify.msteams:build_v1",
    "msteamsv2": "tocsin.notify.msteams",
    "email": "tocsin.notify.email",
    "pagerduty": "tocsin.notify.pagerduty",
    "opsgenie": "tocsin.notify.opsgenie",
    "apprise": "tocsin.notify.apprise",
}

# Alertmanager receiver kinds tocsin does not implement natively: the config
# model's list (it accepts them so existing files load), not a second copy.
UNSUPPORTED: frozenset[str] = frozenset(UNSUPPORTED_KINDS)


def kinds() -> list[str]:
    return sorted(KINDS)


def builder(kind: str) -> Builder:
    try:
        module = KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown integration kind {kind!r}; known: {', '.join(kinds())}") from None
    module, _, function = module.partition(":")
    build: Builder = getattr(importlib.import_module(module), function or "build")
    return build


def build_integration(
    kind: str, config: Mapping[str, Any], deps: IntegrationDeps, where: str = ""
) -> Integration:
    integration = builder(kind)(config, deps, where or f"{kind}_configs")
    return integration


def check_receiver_kinds(
    receiver: Mapping[str, Any], file: str = "", also: Iterable[str] = ()
) -> None:
    """Reject non-empty `*_configs` keys tocsin cannot deliver, naming the receiver.

    `also`: more kinds the receiver uses that `receiver` does not show.
    """
    name = receiver.get("name", "?")
    problems = []
    used = [k for k, v in receiver.items() if v] + [f"{kind}_configs" for kind in also]
    for key in dict.fromkeys(used):
        # Only `*_configs` keys are integrations; others (name, labels) are metadata.
        if not key.endswith("_configs"):
            continue
        kind = key.removesuffix("_configs")
        if kind in KINDS:
            continue
        hint = " (an apprise_configs URL may cover it)" if kind in UNSUPPORTED else ""
        problems.append(
            ConfigProblem(
                file or f"receiver {name!r}",
                None,
                key,
                f"receiver {name!r}: {key} is not supported by tocsin{hint}",
            )
        )
    if problems:
        raise ConfigError(problems)


def build_receiver(receiver: Any, deps: IntegrationDeps, file: str = "") -> dict[str, Integration]:
    """All integrations of an Alertmanager-shaped receiver (mapping or config model).

    Keys of the result name each integration like Alertmanager does
    (`slack[0]`, `webhook[1]`); they are what DeliveryAttempt.integration holds.
    """
    # The config model leaves the kinds tocsin does not implement out of its
    # dump; ask it for them, so they are refused instead of silently sending
    # nothing.
    unsupported = receiver.unsupported_kinds() if hasattr(receiver, "unsupported_kinds") else []
    receiver = plain(receiver)
    check_receiver_kinds(receiver, file, unsupported)
    name = receiver.get("name", "?")
    out: dict[str, Integration] = {}
    problems: list[ConfigProblem] = []
    for key, configs in receiver.items():
        if not key.endswith("_configs") or not configs:
            continue
        kind = key.removesuffix("_configs")
        for i, config in enumerate(configs):
            where = f"receiver {name!r} {key}[{i}]"
            try:
                out[f"{kind}[{i}]"] = build_integration(kind, config, deps, where)
            except ConfigError as e:
                problems.extend(e.problems)
    if problems:
        raise ConfigError(problems)
    return out
