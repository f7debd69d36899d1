"""Layer 2: what `global` fills into receivers, and the per-kind defaults."""

from __future__ import annotations

import pytest

from tests.support import conformance_dir
from tocsin.alerting.config import (
    AlertmanagerConfig,
    load_alertmanager_config,
    looks_like_alertmanager_config,
    parse_alertmanager_config,
)


def conf(name: str) -> AlertmanagerConfig:
    return load_alertmanager_config(conformance_dir("alertmanager", "config", name))


def secret(v: object) -> str | None:
    return None if v is None else v.get_secret_value()  # type: ignore[attr-defined]


def test_global_defaults_when_global_is_absent() -> None:
    cfg = parse_alertmanager_config("route: {receiver: a}\nreceivers: [{name: a}]\nglobal:\n")
    g = cfg.global_
    assert g.resolve_timeout == 300
    assert g.smtp_hello == "localhost"
    assert g.smtp_require_tls is True
    assert g.pagerduty_url == "https://events.pagerduty.com/v2/enqueue"
    assert g.opsgenie_api_url == "https://api.opsgenie.com/"
    assert g.slack_app_url == "https://slack.com/api/chat.postMessage"
    assert g.http_config.follow_redirects is True


def test_smtp_settings_come_from_global() -> None:
    cfg = conf("conf.smtp-password-global-and-local.yml")
    first, second, third, fourth, fifth = cfg.receivers[0].email_configs
    assert (first.smarthost, first.from_, first.hello) == (
        "localhost:25",
        "alertmanager@example.org",
        "host.example.org",
    )
    assert (first.auth_username, first.auth_password_file) == (
        "globaluser",
        "/tmp/globaluserpassword",
    )
    assert first.auth_secret_file == "/tmp/globalusersecret"
    assert (second.auth_username, second.auth_password_file) == (
        "localuser1",
        "/tmp/localuser1password",
    )
    assert secret(third.auth_password) == "mysecret"
    assert third.auth_password_file == ""
    assert secret(fourth.auth_secret) == "myprecious"
    assert fifth.auth_secret_file == "/tmp/localuser4secret"
    assert first.require_tls is True
    assert first.send_resolved is False


def test_slack_api_url_from_global_file_or_override() -> None:
    first, second, third = conf("conf.slack-default-api-url-file.yml").receivers[0].slack_configs
    assert first.api_url_file == "/global_file"
    assert second.api_url_file == "/override_file"
    assert secret(third.api_url) == "http://mysecret.example.com/"
    assert third.api_url_file == ""


def test_slack_app_token_becomes_bearer_authorization() -> None:
    cfgs = conf("conf.slack-default-app-token.yml").receivers[0].slack_configs
    glob, override, custom_url, workaround, webhook = cfgs
    assert glob.http_config is not None
    assert glob.http_config.authorization is not None
    assert secret(glob.http_config.authorization.credentials) == "xoxb-1234-abcdefgh"
    assert secret(glob.api_url) == "https://slack.com/api/chat.postMessage"
    assert override.http_config is not None
    assert override.http_config.authorization is not None
    assert secret(override.http_config.authorization.credentials) == "xoxb-1234-xxxxxx"
    assert secret(custom_url.api_url) == "http://api.fakeslack.example/"
    assert workaround.app_token is None
    assert workaround.http_config is not None
    assert workaround.http_config.authorization is not None
    assert secret(workaround.http_config.authorization.credentials) == "xoxb-my-bot-token"
    assert webhook.app_token is None
    assert webhook.send_resolved is True
    assert glob.send_resolved is False


def test_opsgenie_key_and_url_from_global() -> None:
    team, escalation = conf("conf.opsgenie-default-apikey.yml").receivers[0:2]
    assert secret(team.opsgenie_configs[0].api_key) == "asd132"
    assert secret(escalation.opsgenie_configs[0].api_key) == "qwe456"
    assert team.opsgenie_configs[0].api_url == "https://api.opsgenie.com/"
    assert team.opsgenie_configs[0].send_resolved is True
    files = conf("conf.opsgenie-default-apikey-file.yml").receivers
    assert files[0].opsgenie_configs[0].api_key_file == "/global_file"
    assert files[1].opsgenie_configs[0].api_key_file == "/override_file"


def test_http_config_inherited_from_global_unless_set() -> None:
    cfg = conf("conf.http-config.good.yml")
    [slack] = cfg.receivers[0].slack_configs
    assert slack.http_config is not None
    assert slack.http_config.proxy_url == "foo"
    assert slack.http_config.follow_redirects is True  # own block: not merged with global
    good = conf("conf.good.yml")
    pd = good.receiver("team-X-pager").pagerduty_configs[0]
    assert pd.http_config is not None
    assert pd.http_config.proxy_url == "http://127.0.0.1:1025"
    assert pd.url == "https://events.pagerduty.com/v2/enqueue"


@pytest.mark.parametrize(
    ("block", "send_resolved"),
    [
        ("webhook_configs: [{url: 'http://127.0.0.1:9/'}]", True),
        ("pagerduty_configs: [{routing_key: k}]", True),
        ("msteams_configs: [{webhook_url: 'https://example.org/x'}]", True),
        ("msteamsv2_configs: [{webhook_url: 'https://example.org/x'}]", True),
        ("opsgenie_configs: [{api_key: k}]", True),
        ("slack_configs: [{api_url: 'https://hooks.slack.com/x'}]", False),
        ("email_configs: [{to: a@b.c, from: x@y.z, smarthost: 'h:25'}]", False),
    ],
)
def test_send_resolved_default_per_kind(block: str, send_resolved: bool) -> None:
    cfg = parse_alertmanager_config(
        f"route: {{receiver: r}}\nreceivers:\n  - name: r\n    {block}\n"
    )
    [(_, _, integration)] = cfg.receivers[0].integrations()
    assert integration.send_resolved is send_resolved  # type: ignore[attr-defined]


def test_pagerduty_defaults() -> None:
    cfg = parse_alertmanager_config(
        "route: {receiver: r}\nreceivers:\n  - name: r\n"
        "    pagerduty_configs: [{routing_key: k, details: {extra: x, firing: mine}}]\n"
    )
    pd = cfg.receivers[0].pagerduty_configs[0]
    assert pd.source == pd.client == '{{ template "pagerduty.default.client" . }}'
    assert pd.details["extra"] == "x"
    assert pd.details["firing"] == "mine"
    assert pd.details["num_resolved"] == "{{ .Alerts.Resolved | len }}"


def test_unsupported_kinds_are_recorded() -> None:
    cfg = conf("conf.good.yml")
    assert cfg.unsupported_receivers() == {
        "victorOps-receiver": ["victorops"],
        "pushover-receiver": ["pushover"],
    }
    assert cfg.receiver("team-X-pager").unsupported_kinds() == []


def test_secrets_do_not_leak_in_repr() -> None:
    cfg = conf("conf.good.yml")
    text = repr(cfg) + str(cfg.model_dump())
    assert "mysecret" not in text
    assert "multiline" not in text


def test_scalars_read_as_text_like_go() -> None:
    cfg = parse_alertmanager_config(
        "route:\n  receiver: a\n  routes:\n"
        "    - match: {code: 500, flag: true}\n      receiver: a\n"
        "receivers: [{name: a}]\n"
    )
    assert cfg.route is not None
    assert cfg.route.routes[0].match == {"code": "500", "flag": "true"}


def test_receiver_labels_get_the_name() -> None:
    cfg = parse_alertmanager_config(
        "route: {receiver: a}\nreceivers: [{name: a, labels: {team: ops}}]\n"
    )
    assert cfg.receivers[0].labels == {"team": "ops", "name": "a"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"route": {"receiver": "a"}, "receivers": [{"name": "a"}]}, True),
        ({"route": {}, "global": {}, "tracing": {}}, True),
        ({"server": {}, "route": {}}, False),
        ({"receivers": []}, False),
        ([1], False),
    ],
)
def test_looks_like_alertmanager_config(data: object, expected: bool) -> None:
    assert looks_like_alertmanager_config(data) is expected


def test_masked_dump_hides_every_secret() -> None:
    masked = conf("conf.good.yml").masked()
    text = str(masked)
    assert "mysecret" not in text
    assert masked["global"]["smtp_auth_password"] == "<secret>"
    assert masked["global"]["slack_api_url"] == "<secret>"
    pager = next(r for r in masked["receivers"] if r["name"] == "team-X-pager")
    assert pager["pagerduty_configs"][0]["routing_key"] == "<secret>"
    assert pager["email_configs"][0]["to"] == "team-X+alerts-critical@example.org"
    assert masked["route"]["receiver"] == "team-X-mails"


@pytest.mark.parametrize(
    "block",
    [
        "victorops_configs: [{routing_key: r}]\nglobal: {victorops_api_key: k}",
        "telegram_configs: [{chat_id: 1}]\nglobal: {telegram_bot_token_file: /f}",
        "wechat_configs: [{}]\nglobal: {wechat_api_secret: s, wechat_api_corp_id: c}",
        "mattermost_configs: [{}]\nglobal: {mattermost_webhook_url: 'https://m.example/h'}",
        "pushover_configs: [{user_key: u, token: t}]",
        "sns_configs: [{topic_arn: arn}]",
        "discord_configs: [{webhook_url_file: /f}]",
        "webex_configs: [{room_id: r, http_config: {authorization: {credentials: c}}}]",
        "jira_configs: [{project: P, issue_type: Bug, api_url: 'https://j.example/'}]",
    ],
)
def test_unsupported_kinds_load_when_alertmanager_would(block: str) -> None:
    receiver, _, rest = block.partition("\n")
    text = f"route: {{receiver: r}}\nreceivers:\n  - name: r\n    {receiver}\n{rest}\n"
    cfg = parse_alertmanager_config(text)
    assert cfg.receivers[0].unsupported_kinds() == [receiver.split("_configs")[0]]
