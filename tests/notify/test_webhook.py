from __future__ import annotations

import pytest

from tests.support import free_port
from tocsin.errors import ConfigError, DeliveryError
from tocsin.notify import webhook
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.timefmt import ZERO_TIME, rfc3339
from tocsin.notify.types import DeliveryFailure

from .fakes import FakeWebhook, check_webhook_v4
from .support import alert, notification


@pytest.mark.parametrize(
    ("t", "want"),
    [
        (None, ZERO_TIME),
        (0.0, "1970-01-01T00:00:00Z"),
        (1_700_000_000.0, "2023-11-14T22:13:20Z"),
        (1_700_000_000.5, "2023-11-14T22:13:20.5Z"),
        (1_700_000_000.123456, "2023-11-14T22:13:20.123456Z"),
        (1_700_000_000.12, "2023-11-14T22:13:20.12Z"),
        (0.000001, "1970-01-01T00:00:00.000001Z"),
        (1_700_000_039.9999999, "2023-11-14T22:14:00Z"),  # rounds into the next minute
    ],
)
def test_rfc3339_matches_go_time_json(t: float | None, want: str) -> None:
    assert rfc3339(t) == want


def test_payload_is_version_4_with_zero_end_for_firing() -> None:
    n = notification(alert(zone="a"), alert(zone="b", status="resolved"))
    body = webhook.webhook_payload(n)
    assert check_webhook_v4(body) == []
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["groupKey"] == n.group_key
    assert [a["endsAt"] for a in body["alerts"]] == [ZERO_TIME, "2023-11-14T22:23:20Z"]
    assert body["alerts"][0]["startsAt"] == "2023-11-14T22:13:20.5Z"
    assert body["truncatedAlerts"] == 0


@pytest.mark.parametrize(
    ("count", "max_alerts", "upstream", "sent", "truncated"),
    [(5, 0, 0, 5, 0), (5, 2, 0, 2, 3), (5, 5, 0, 5, 0), (5, 2, 4, 2, 7), (1, 3, 0, 1, 0)],
)
def test_max_alerts_truncates_and_counts(
    count: int, max_alerts: int, upstream: int, sent: int, truncated: int
) -> None:
    n = notification(*(alert(zone=f"z{i}") for i in range(count)), truncated=upstream)
    body = webhook.webhook_payload(n, max_alerts)
    assert len(body["alerts"]) == sent
    assert body["truncatedAlerts"] == truncated
    assert [a["labels"]["zone"] for a in body["alerts"]] == [f"z{i}" for i in range(sent)]


async def test_delivers_to_real_server(deps: IntegrationDeps) -> None:
    async with FakeWebhook() as hook:
        integ = webhook.build({"url": hook.url + "/hook", "max_alerts": 1}, deps)
        n = notification(alert(zone="a"), alert(zone="b"))
        result = await integ.notify(n)
        await integ.aclose()
    assert result.status_code == 200
    assert hook.problems == []
    assert hook.last.path == "/hook"
    assert hook.last.headers["Content-Type"] == "application/json"
    assert hook.last.json["truncatedAlerts"] == 1
    assert hook.last.json["receiver"] == "venue-it"


@pytest.mark.parametrize(
    ("status", "retryable", "retry_after"),
    [(500, True, None), (503, True, 7.0), (429, True, 3.0), (400, False, None), (404, False, None)],
)
async def test_status_codes_decide_retryability(
    deps: IntegrationDeps, status: int, retryable: bool, retry_after: float | None
) -> None:
    async with FakeWebhook() as hook:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after else {}
        hook.script(status, "nope", headers)
        integ = webhook.build({"url": hook.url + "/"}, deps)
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(notification())
        await integ.aclose()
    assert err.value.retryable is retryable
    assert err.value.status_code == status
    assert err.value.retry_after == retry_after
    assert f"HTTP {status}" in str(err.value)


async def test_connection_refused_is_retryable(deps: IntegrationDeps) -> None:
    integ = webhook.build({"url": f"http://127.0.0.1:{free_port()}/"}, deps)
    with pytest.raises(DeliveryError) as err:
        await integ.notify(notification())
    await integ.aclose()
    assert err.value.retryable


async def test_url_file_is_read_at_send_time(deps: IntegrationDeps, tmp_path) -> None:
    secret = tmp_path / "url"
    async with FakeWebhook() as hook:
        secret.write_text(hook.url + "/first\n")
        integ = webhook.build({"url_file": str(secret)}, deps)
        await integ.notify(notification())
        secret.write_text(hook.url + "/rotated\n")
        await integ.notify(notification())
        await integ.aclose()
    assert [r.path for r in hook.requests] == ["/first", "/rotated"]


async def test_missing_url_file_is_permanent(deps: IntegrationDeps, tmp_path) -> None:
    integ = webhook.build({"url_file": str(tmp_path / "absent")}, deps)
    with pytest.raises(DeliveryError, match="cannot read url_file") as err:
        await integ.notify(notification())
    await integ.aclose()
    assert not err.value.retryable


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({}, "url", "one of url or url_file"),
        ({"url": "http://x", "url_file": "/f"}, "url", "mutually exclusive"),
        ({"url": "http://x", "max_alerts": -1}, "max_alerts", "negative"),
        ({"url": "http://x", "send_resolved": "yes"}, "send_resolved", "a boolean"),
        ({"url": "http://x", "bogus": 1}, "bogus", "unknown field"),
        (
            {"url": "http://x", "http_config": {"oauth2": {"client_id": "c"}}},
            "http_config",
            "unsupported",
        ),
    ],
)
def test_bad_config_names_the_field(
    deps: IntegrationDeps, config: dict, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        webhook.build(config, deps, "receiver 'r' webhook_configs[0]")
    problem = err.value.problems[0]
    assert problem.field == field
    assert message in problem.message
    assert "receiver 'r' webhook_configs[0]" in str(err.value)


async def test_http_config_basic_auth_is_sent(deps: IntegrationDeps) -> None:
    async with FakeWebhook() as hook:
        cfg = {
            "url": hook.url + "/",
            "http_config": {"basic_auth": {"username": "u", "password": "p"}},
        }
        integ = webhook.build(cfg, deps)
        await integ.notify(notification())
        await integ.aclose()
    assert hook.last.headers["Authorization"] == "Basic dTpw"


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("10s", 10.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), (5, 5.0), (0.25, 0.25)],
)
def test_timeout_accepts_durations(deps: IntegrationDeps, given: object, seconds: float) -> None:
    integ = webhook.build({"url": "http://x", "timeout": given}, deps)
    assert integ.timeout == seconds


@pytest.mark.parametrize("given", ["10", "ten seconds", "1m-5s", ""])
def test_bad_duration_is_named(deps: IntegrationDeps, given: str) -> None:
    with pytest.raises(ConfigError, match="not a duration") as err:
        webhook.build({"url": "http://x", "timeout": given}, deps)
    assert err.value.problems[0].field == "timeout"


def test_tls_versions_and_proxy_from_environment(deps: IntegrationDeps) -> None:
    cfg = {
        "url": "http://x",
        "http_config": {"tls_config": {"min_version": "TLS12"}, "proxy_from_environment": True},
    }
    webhook.build(cfg, deps)
    cfg["http_config"] = {"tls_config": {"min_version": "SSL3"}}
    with pytest.raises(ConfigError, match="TLS12"):
        webhook.build(cfg, deps)


async def test_custom_payload_structure_is_rendered(deps: IntegrationDeps) -> None:
    async with FakeWebhook() as hook:
        cfg = {
            "url": hook.url + "/custom",
            "payload": {
                "msgtype": "markdown",
                "markdown": {"content": "{{ .Status }}: {{ .CommonLabels.zone }}"},
                "tags": ["{{ .Receiver }}", 3],
            },
        }
        integ = webhook.build(cfg, deps)
        with pytest.raises(DeliveryFailure):
            await integ.notify(notification())  # not a v4 payload: the fake refuses it
        await integ.aclose()
    assert hook.last.json == {
        "msgtype": "markdown",
        "markdown": {"content": "firing: lobby"},
        "tags": ["venue-it", 3],
    }


async def test_custom_payload_template_string(deps: IntegrationDeps) -> None:
    async with FakeWebhook() as hook:
        cfg = {"url": hook.url + "/raw", "payload": '{"text": "{{ .Status }}"}'}
        integ = webhook.build(cfg, deps)
        with pytest.raises(DeliveryFailure):
            await integ.notify(notification())
        await integ.aclose()
    assert hook.last.body == b'{"text": "firing"}'
    assert hook.last.headers["Content-Type"] == "application/json"


async def test_http_headers_and_authorization_file(deps: IntegrationDeps, tmp_path) -> None:
    (tmp_path / "cred").write_text("s3cret\n")
    (tmp_path / "hdr").write_text("from-file\n")
    async with FakeWebhook() as hook:
        cfg = {
            "url": hook.url + "/",
            "http_config": {
                "authorization": {"type": "Token", "credentials_file": str(tmp_path / "cred")},
                "http_headers": {
                    "X-Tenant": {"values": ["a", "b"]},
                    "X-Key": {"secrets": ["k"], "files": [str(tmp_path / "hdr")]},
                },
            },
        }
        integ = webhook.build(cfg, deps)
        await integ.notify(notification())
        await integ.aclose()
    raw = hook.last.headers
    assert raw["Authorization"] == "Token s3cret"
    assert raw.getall("X-Tenant") == ["a", "b"]
    assert raw.getall("X-Key") == ["k", "from-file"]


def test_missing_credentials_file_is_a_config_error(deps: IntegrationDeps, tmp_path) -> None:
    cfg = {"url": "http://x", "http_config": {"bearer_token_file": str(tmp_path / "nope")}}
    with pytest.raises(ConfigError) as err:
        webhook.build(cfg, deps)
    assert err.value.problems[0].field == "http_config.bearer"


def test_config_model_dump_with_empty_fields_builds(deps: IntegrationDeps) -> None:
    from tocsin.alerting.config.common import HTTPConfig

    integ = webhook.build({"url": "http://x", "http_config": HTTPConfig()}, deps)
    assert integ.config.url == "http://x"
