from __future__ import annotations

import pytest

from tocsin.alerting.config import parse_alertmanager_config
from tocsin.clock import FakeClock
from tocsin.errors import ConfigError
from tocsin.notify import registry
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.retry import MemoryAttemptSink, Retrier

from .fakes import FakePagerDuty, FakeSlack, FakeWebhook
from .support import notification, run_on_clock


def test_every_kind_has_a_builder() -> None:
    for kind in registry.kinds():
        assert callable(registry.builder(kind))


def test_unknown_kind_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="known: apprise, email"):
        registry.builder("carrier-pigeon")


@pytest.mark.parametrize(
    ("key", "hint"),
    [("telegram_configs", "apprise_configs"), ("sms_configs", "not supported by tocsin")],
)
def test_unsupported_receiver_kind_names_the_receiver(
    deps: IntegrationDeps, key: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as err:
        registry.build_receiver({"name": "venue-it", key: [{}]}, deps, "am.yml")
    [problem] = err.value.problems
    assert problem.file == "am.yml"
    assert problem.field == key
    assert "receiver 'venue-it'" in problem.message
    assert hint in problem.message


def test_build_receiver_collects_every_problem(deps: IntegrationDeps) -> None:
    with pytest.raises(ConfigError) as err:
        registry.build_receiver(
            {"name": "r", "webhook_configs": [{}, {"url": "http://x", "nope": 1}]}, deps
        )
    assert [(p.file, p.field) for p in err.value.problems] == [
        ("receiver 'r' webhook_configs[0]", "url"),
        ("receiver 'r' webhook_configs[1]", "nope"),
    ]


async def test_receiver_end_to_end_with_retry(deps: IntegrationDeps, clock: FakeClock) -> None:
    """An Alertmanager-shaped receiver, three integrations, one flaky service."""
    async with FakeWebhook() as hook, FakePagerDuty() as pd, FakeSlack() as slack:
        receiver = {
            "name": "venue-it",
            "webhook_configs": [{"url": hook.url + "/am"}],
            "pagerduty_configs": [
                {"routing_key": "R" * 32, "url": pd.url + "/v2/enqueue"},
            ],
            "slack_configs": [
                {
                    "app_token": "xoxb-test-token",
                    "app_url": slack.url + "/api/chat.postMessage",
                    "channel": "#alerts",
                }
            ],
            "email_configs": None,
        }
        integrations = registry.build_receiver(receiver, deps)
        assert list(integrations) == ["webhook[0]", "pagerduty[0]", "slack[0]"]
        pd.script(503, "busy", times=2)
        sink = MemoryAttemptSink()
        retrier = Retrier(clock, sink, random=lambda: 0.5)
        t0 = clock.now()
        outcomes = await run_on_clock(
            clock, retrier.deliver_receiver(integrations, notification(), t0 + 300)
        )
        for integ in integrations.values():
            await integ.aclose()
    assert [o.ok for o in outcomes] == [True, True, True]
    assert [o.attempts for o in outcomes] == [1, 3, 1]
    pd_attempts = [a for a in sink.attempts if a.integration == "pagerduty[0]"]
    assert [(a.status_code, a.retryable, a.final) for a in pd_attempts] == [
        (503, True, False),
        (503, True, False),
        (202, False, True),
    ]
    assert pd_attempts[1].at - pd_attempts[0].at >= 1.0
    assert hook.problems == pd.problems == slack.problems == []
    assert len(pd.events) == 1


def test_unsupported_kind_of_a_loaded_config_model_is_refused(deps: IntegrationDeps) -> None:
    # The model leaves these kinds out of its dump: they must still be refused,
    # not built as a receiver that silently sends nothing.
    cfg = parse_alertmanager_config(
        "route: {receiver: pager}\n"
        "receivers:\n"
        "  - name: pager\n"
        "    webhook_configs: [{url: 'http://127.0.0.1:1/'}]\n"
        "    victorops_configs: [{routing_key: r, api_key: k}]\n"
    )
    with pytest.raises(ConfigError) as err:
        registry.build_receiver(cfg.receivers[0], deps, "am.yml")
    [problem] = err.value.problems
    assert problem.field == "victorops_configs"
    assert "receiver 'pager'" in problem.message
