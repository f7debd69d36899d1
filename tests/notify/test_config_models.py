"""The alerting config models (Alertmanager files as loaded) build into integrations."""

from __future__ import annotations

import pytest

from tests.support import conformance_dir
from tocsin.alerting.config import load_alertmanager_config
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.dispatch import Receivers
from tocsin.notify.retry import MemoryAttemptSink, Retrier
from tocsin.notify.types import Integration

LOADABLE = [
    "conf.good.yml",
    "conf.empty-fields.yml",
    "conf.http-config.good.yml",
    "conf.smtp-no-username-or-password.yml",
    "conf.smtp-password-global-and-local.yml",
    "conf.opsgenie-default-apikey.yml",
    "conf.opsgenie-default-apikey-file.yml",
    "conf.slack-default-app-token.yml",
    "conf.slack-default-api-url-file.yml",
]


@pytest.mark.parametrize("name", LOADABLE)
def test_supported_receivers_of_conformance_configs_build(
    deps: IntegrationDeps, clock, name: str
) -> None:
    config = load_alertmanager_config(conformance_dir("alertmanager", "config", name))
    supported = [r for r in config.receivers if not r.unsupported_kinds()]
    receivers = Receivers.build(supported, deps, Retrier(clock, MemoryAttemptSink()), name)
    assert receivers.names() == [r.name for r in supported]
    built: list[Integration] = [i for rs in receivers.receivers.values() for i in rs.values()]
    assert len(built) == sum(
        len(v or []) for r in supported for k, v in r.model_dump().items() if k.endswith("_configs")
    )


def test_bot_token_from_global_posts_to_the_web_api(deps: IntegrationDeps) -> None:
    config = load_alertmanager_config(
        conformance_dir("alertmanager", "config", "conf.slack-default-app-token.yml")
    )
    receivers = Receivers.build(config.receivers, deps, Retrier(deps.clock, MemoryAttemptSink()))
    slacks = list(receivers.receivers["slack-notifications"].values())
    assert [s.bot for s in slacks] == [True, True, True, True, False]  # type: ignore[attr-defined]
    assert slacks[2].post_url == "http://api.fakeslack.example/"  # type: ignore[attr-defined]
