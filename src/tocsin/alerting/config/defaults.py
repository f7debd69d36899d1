"""Layer 2: fill receiver configs with what `global` provides.

Mirrors the order and rules of Alertmanager's config loading: a value set on
the integration wins; otherwise the global one is used; a value that is
still missing afterwards is an error naming the integration.
"""

from __future__ import annotations

from pydantic import SecretStr

from tocsin.alerting.config.common import Authorization, HTTPConfig
from tocsin.alerting.config.models import AlertmanagerConfig, GlobalConfig
from tocsin.alerting.config.receivers import (
    EmailConfig,
    OpsGenieConfig,
    Receiver,
    SlackConfig,
)

Problem = tuple[tuple[str | int, ...], str]


_PAIRED_SECRETS = (
    "slack_app_token",
    "slack_api_url",
    "opsgenie_api_key",
    "victorops_api_key",
    "telegram_bot_token",
    "smtp_auth_password",
    "rocketchat_token",
    "rocketchat_token_id",
    "smtp_auth_secret",
    "wechat_api_secret",
    "mattermost_webhook_url",
)


def check_global(g: GlobalConfig) -> list[Problem]:
    """Secrets given both inline and as a file, and Slack's URL/token conflict."""
    out: list[Problem] = []
    for name in _PAIRED_SECRETS:
        if getattr(g, name) is not None and getattr(g, name + "_file"):
            out.append(
                (
                    ("global", name + "_file"),
                    f"at most one of {name} & {name}_file must be configured",
                )
            )
    has_token = g.slack_app_token is not None or bool(g.slack_app_token_file)
    has_url = g.slack_api_url is not None or bool(g.slack_api_url_file)
    api = g.slack_api_url.get_secret_value() if g.slack_api_url else ""
    # Tolerated: the old bot-token workaround of api_url set to the app URL itself.
    if has_token and has_url and api != g.slack_app_url:
        out.append(
            (
                ("global", "slack_api_url" if g.slack_api_url else "slack_api_url_file"),
                "at most one of slack_app_token/slack_app_token_file & "
                "slack_api_url/slack_api_url_file must be configured",
            )
        )
    return out


def apply_global_defaults(cfg: AlertmanagerConfig) -> list[Problem]:
    """Fill every receiver from `cfg.global_`, in place. Returns (path, message)s."""
    g = cfg.global_
    problems = check_global(g)
    if problems:
        return problems
    for ri, rcv in enumerate(cfg.receivers):
        base: tuple[str | int, ...] = ("receivers", ri)
        _simple_http(rcv, g)
        for i, ec in enumerate(rcv.email_configs):
            problems += [((*base, "email_configs", i), m) for m in _email(ec, g)]
        for i, sc in enumerate(rcv.slack_configs):
            problems += [((*base, "slack_configs", i), m) for m in _slack(sc, g)]
        for pdc in rcv.pagerduty_configs:
            pdc.url = pdc.url or g.pagerduty_url
        for i, oc in enumerate(rcv.opsgenie_configs):
            problems += [((*base, "opsgenie_configs", i), m) for m in _opsgenie(oc, g)]
        for v2 in rcv.msteamsv2_configs:
            if v2.http_config is None:
                v2.http_config = _copy_http(g)
            elif not v2.http_config.proxy_url:
                v2.http_config.proxy_url = g.http_config.proxy_url
    return problems


def _copy_http(g: GlobalConfig) -> HTTPConfig:
    return g.http_config.model_copy(deep=True)


def _simple_http(rcv: Receiver, g: GlobalConfig) -> None:
    for group in (
        rcv.webhook_configs,
        rcv.pagerduty_configs,
        rcv.opsgenie_configs,
        rcv.msteams_configs,
    ):
        for c in group:
            if c.http_config is None:
                c.http_config = _copy_http(g)


def _email(ec: EmailConfig, g: GlobalConfig) -> list[str]:
    out = []
    if ec.tls_config is None:
        ec.tls_config = g.smtp_tls_config.model_copy(deep=True)
    ec.smarthost = ec.smarthost or g.smtp_smarthost
    if not ec.smarthost:
        out.append("no global SMTP smarthost set (give smarthost here or smtp_smarthost in global)")
    ec.from_ = ec.from_ or g.smtp_from
    if not ec.from_:
        out.append("no global SMTP from set (give from here or smtp_from in global)")
    ec.hello = ec.hello or g.smtp_hello
    ec.auth_username = ec.auth_username or g.smtp_auth_username
    if ec.auth_password is None and not ec.auth_password_file:
        ec.auth_password = g.smtp_auth_password
        ec.auth_password_file = g.smtp_auth_password_file
    if ec.auth_secret is None and not ec.auth_secret_file:
        ec.auth_secret = g.smtp_auth_secret
        ec.auth_secret_file = g.smtp_auth_secret_file
    ec.auth_identity = ec.auth_identity or g.smtp_auth_identity
    if ec.require_tls is None:
        ec.require_tls = g.smtp_require_tls
    if ec.force_implicit_tls is None:
        ec.force_implicit_tls = g.smtp_force_implicit_tls
    return out


def _slack(sc: SlackConfig, g: GlobalConfig) -> list[str]:
    sc.app_url = sc.app_url or g.slack_app_url
    local_auth = sc.http_config is not None and sc.http_config.authorization is not None
    # The global app token applies only when nothing here chose another way in.
    if sc.app_token is None and not sc.app_token_file and not local_auth and sc.api_url is None:
        sc.app_token = g.slack_app_token
        sc.app_token_file = g.slack_app_token_file
    if sc.api_url is None and not sc.api_url_file:
        sc.api_url = g.slack_api_url
        sc.api_url_file = g.slack_api_url_file
    if (
        sc.api_url is None
        and not sc.api_url_file
        and sc.app_token is None
        and not sc.app_token_file
    ):
        return ["no Slack API URL nor App token set either inline or in a file"]
    if sc.http_config is None:
        sc.http_config = _copy_http(g)
    if sc.app_token is not None or sc.app_token_file:
        if sc.http_config.authorization is not None:
            return ["http authorization can't be set when using Slack App tokens"]
        sc.http_config.authorization = Authorization(
            type="Bearer", credentials=sc.app_token, credentials_file=sc.app_token_file
        )
        sc.api_url = SecretStr(sc.app_url)
    return []


def _opsgenie(oc: OpsGenieConfig, g: GlobalConfig) -> list[str]:
    oc.api_url = oc.api_url or g.opsgenie_api_url
    if not oc.api_url.endswith("/"):
        oc.api_url += "/"
    oc.api_key = oc.api_key or g.opsgenie_api_key
    oc.api_key_file = oc.api_key_file or g.opsgenie_api_key_file
    if oc.api_key is None and not oc.api_key_file:
        return ["no global OpsGenie API Key set either inline or in a file"]
    return []
