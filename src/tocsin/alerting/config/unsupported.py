"""Checks for the receiver kinds tocsin does not deliver to.

Their settings are kept as raw mappings, but a file Alertmanager would refuse
(a VictorOps receiver without an API key anywhere, ...) is refused here too,
with Alertmanager's message, so "it loads in tocsin" keeps meaning "it loads
in Alertmanager".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.alerting.config.models import AlertmanagerConfig

# kind -> rules. A rule: (keys of which one is needed, global keys that can
# stand in for them, message when neither is set).
_NEEDS: dict[str, list[tuple[tuple[str, ...], tuple[str, ...], str]]] = {
    "discord": [
        (
            ("webhook_url", "webhook_url_file"),
            (),
            "one of webhook_url or webhook_url_file must be configured",
        ),
    ],
    "incidentio": [(("url", "url_file"), (), "one of url or url_file must be configured")],
    "jira": [
        (("project",), (), "missing project in jira_config"),
        (("issue_type",), (), "missing issue_type in jira_config"),
        (("api_url",), ("jira_api_url",), "no global Jira Cloud URL set"),
    ],
    "mattermost": [
        (
            ("webhook_url", "webhook_url_file"),
            ("mattermost_webhook_url", "mattermost_webhook_url_file"),
            "missing webhook_url or webhook_url_file on mattermost_config",
        ),
    ],
    "pushover": [
        (("user_key", "user_key_file"), (), "one of user_key or user_key_file must be configured"),
        (("token", "token_file"), (), "one of token or token_file must be configured"),
    ],
    "rocketchat": [
        (
            ("token_id", "token_id_file"),
            ("rocketchat_token_id", "rocketchat_token_id_file"),
            "no global Rocketchat TokenID set either inline or in a file",
        ),
        (
            ("token", "token_file"),
            ("rocketchat_token", "rocketchat_token_file"),
            "no global Rocketchat Token set either inline or in a file",
        ),
    ],
    "sns": [
        (
            ("target_arn", "topic_arn", "phone_number"),
            (),
            "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config",
        ),
    ],
    "telegram": [
        (
            ("bot_token", "bot_token_file"),
            ("telegram_bot_token", "telegram_bot_token_file"),
            "missing bot_token or bot_token_file on telegram_config",
        ),
        (("chat_id", "chat_id_file"), (), "missing chat_id or chat_id_file on telegram_config"),
    ],
    "victorops": [
        (("routing_key",), (), "missing Routing key in VictorOps config"),
        (
            ("api_key", "api_key_file"),
            ("victorops_api_key", "victorops_api_key_file"),
            "no global VictorOps API Key set",
        ),
    ],
    "webex": [(("room_id",), (), "missing room_id on webex_config")],
    "wechat": [
        (
            ("api_secret", "api_secret_file"),
            ("wechat_api_secret", "wechat_api_secret_file"),
            "no global Wechat Api Secret set either inline or in a file",
        ),
        (("corp_id",), ("wechat_api_corp_id",), "no global Wechat CorpID set"),
    ],
}

_PAIRS: dict[str, list[tuple[str, str]]] = {
    "discord": [("webhook_url", "webhook_url_file")],
    "incidentio": [("url", "url_file"), ("alert_source_token", "alert_source_token_file")],
    "mattermost": [("webhook_url", "webhook_url_file")],
    "pushover": [("user_key", "user_key_file"), ("token", "token_file")],
    "rocketchat": [("token", "token_file"), ("token_id", "token_id_file")],
    "telegram": [("bot_token", "bot_token_file"), ("chat_id", "chat_id_file")],
    "victorops": [("api_key", "api_key_file")],
    "wechat": [("api_secret", "api_secret_file")],
}

Problem = tuple[tuple[str | int, ...], str]


def _set(value: Any) -> bool:
    return value not in (None, "", 0)


def check_unsupported(cfg: AlertmanagerConfig) -> list[Problem]:
    """Alertmanager's required-setting checks for kinds tocsin only accepts."""
    g = cfg.global_
    out: list[Problem] = []
    for ri, rcv in enumerate(cfg.receivers):
        for kind in rcv.unsupported_kinds():
            for i, c in enumerate(getattr(rcv, f"{kind}_configs")):
                path: tuple[str | int, ...] = ("receivers", ri, f"{kind}_configs", i)
                out += [(path, msg) for msg in _check_one(kind, c, g)]
    return out


def _check_one(kind: str, c: Mapping[str, Any], g: Any) -> list[str]:
    out = []
    for a, b in _PAIRS.get(kind, []):
        if _set(c.get(a)) and _set(c.get(b)):
            out.append(f"at most one of {a} & {b} must be configured")
    for keys, global_keys, message in _NEEDS.get(kind, []):
        here = any(_set(c.get(k)) for k in keys)
        there = any(_set(getattr(g, k, None)) for k in global_keys)
        if not here and not there:
            out.append(message)
    if kind == "webex":
        http = c.get("http_config")
        if not isinstance(http, Mapping) or not http.get("authorization"):
            out.append("missing webex_configs.http_config.authorization")
    return out
