"""The receivers of one configuration, ready to deliver.

This is what the alerting pipeline holds: build it from the `receivers:`
list of an Alertmanager config, hand it notifications, swap it on reload and
close the old one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from tocsin.errors import ConfigError, ConfigProblem
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.fields import plain
from tocsin.notify.registry import build_receiver
from tocsin.notify.retry import DeliveryOutcome, Retrier
from tocsin.notify.types import Integration, Notification


class UnknownReceiver(KeyError):
    """A notification named a receiver this configuration does not have."""


class Receivers:
    """Integrations by receiver name, delivered through one Retrier.

    The set owns the HTTP session its integrations send through (`deps`) and
    closes it in `aclose()`.
    """

    def __init__(
        self,
        receivers: Mapping[str, Mapping[str, Integration]],
        retrier: Retrier,
        deps: IntegrationDeps | None = None,
    ):
        self.receivers = dict(receivers)
        self.retrier = retrier
        self.deps = deps

    @classmethod
    def build(
        cls,
        configs: Iterable[Any],
        deps: IntegrationDeps,
        retrier: Retrier,
        file: str = "",
    ) -> Receivers:
        """Build every receiver (mappings or config models), reporting all problems together.

        The integrations share one aiohttp session: `deps.session` when given
        (left open for its owner), else one this set creates and closes, so
        that an old set closed after a reload does not cut off the new one.
        """
        deps = dataclasses.replace(deps)
        receivers: dict[str, Mapping[str, Integration]] = {}
        problems: list[ConfigProblem] = []
        seen: set[str] = set()
        for config in configs:
            name = plain(config).get("name")
            if not name:
                problems.append(ConfigProblem(file or "receivers", None, "name", "is required"))
                continue
            if name in seen:
                problems.append(
                    ConfigProblem(file or "receivers", None, "name", f"duplicate {name!r}")
                )
                continue
            seen.add(name)
            try:
                receivers[name] = build_receiver(config, deps, file)
            except ConfigError as e:
                problems.extend(e.problems)
        if problems:
            # The integrations built so far have opened no connection yet
            # (the session is created on first use), so nothing needs closing.
            raise ConfigError(problems)
        return cls(receivers, retrier, deps)

    def names(self) -> list[str]:
        return list(self.receivers)

    async def notify(self, n: Notification, deadline: float) -> list[DeliveryOutcome]:
        """Deliver `n` to every integration of `n.receiver` (none for a null receiver)."""
        try:
            integrations = self.receivers[n.receiver]
        except KeyError:
            raise UnknownReceiver(n.receiver) from None
        return await self.retrier.deliver_receiver(integrations, n, deadline)

    async def aclose(self) -> None:
        for integrations in self.receivers.values():
            for integration in integrations.values():
                await integration.aclose()
        if self.deps is not None:
            await self.deps.aclose()
