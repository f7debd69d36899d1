"""Receiver integration configs, keyed and defaulted exactly as in Alertmanager.

Per-kind checks that need nothing but the block itself live here (layer 1);
values inherited from `global` are filled in by `defaults.py` (layer 2).
Kinds tocsin does not deliver to are still accepted, as raw mappings, so an
existing config loads; `Receiver.unsupported_kinds()` names them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from tocsin.alerting.config.common import (
    URL,
    GoDuration,
    HostPort,
    HTTPConfig,
    SecretTemplateURL,
    SecretURL,
    StrictModel,
    TLSConfig,
    YamlStr,
    exclusive,
)
from tocsin.alerting.matchers import is_valid_label_name

SLACK_BOT_URL = "https://slack.com/api/chat.postMessage"


def _tmpl(name: str) -> str:
    return '{{ template "' + name + '" . }}'


class WebhookConfig(StrictModel):
    send_resolved: bool = True
    http_config: HTTPConfig | None = None
    url: SecretTemplateURL | None = None
    url_file: str = ""
    max_alerts: int = Field(0, ge=0)
    timeout: GoDuration = 0.0
    payload: Any = None

    @model_validator(mode="after")
    def _url_given(self) -> WebhookConfig:
        if self.url is None and not self.url_file:
            raise ValueError("one of url or url_file must be configured")
        exclusive(self, "url", "url_file")
        return self


class EmailThreading(StrictModel):
    enabled: bool = False
    thread_by_date: str = ""


def _canonical_header(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class EmailConfig(StrictModel):
    send_resolved: bool = False
    to: YamlStr = ""
    from_: YamlStr = Field("", alias="from")
    hello: YamlStr = ""
    smarthost: HostPort = ""
    auth_username: YamlStr = ""
    auth_password: SecretStr | None = None
    auth_password_file: str = ""
    auth_secret: SecretStr | None = None
    auth_secret_file: str = ""
    auth_identity: YamlStr = ""
    headers: dict[str, YamlStr] = Field(default_factory=dict)
    html: str = _tmpl("email.default.html")
    text: str = ""
    require_tls: bool | None = None
    tls_config: TLSConfig | None = None
    force_implicit_tls: bool | None = None
    threading: EmailThreading = Field(default_factory=EmailThreading)

    @model_validator(mode="after")
    def _check(self) -> EmailConfig:
        if not self.to:
            raise ValueError("missing to address in email config")
        normalized: dict[str, str] = {}
        for name, value in self.headers.items():
            canon = _canonical_header(name)
            if canon in normalized:
                raise ValueError(f"duplicate header {canon!r} in email config")
            normalized[canon] = value
        self.headers = normalized
        if self.threading.enabled:
            for h in ("References", "In-Reply-To"):
                if h in normalized:
                    raise ValueError(f"threading.enabled conflicts with custom {h} header")
            if self.threading.thread_by_date not in ("none", "daily"):
                raise ValueError("threading.thread_by_date must be either 'none' or 'daily'")
        return self


class PagerdutyLink(StrictModel):
    href: str = ""
    text: str = ""


class PagerdutyImage(StrictModel):
    src: str = ""
    alt: str = ""
    href: str = ""


PAGERDUTY_DEFAULT_DETAILS: dict[str, str] = {
    "firing": "{{ .Alerts.Firing | toJson }}",
    "resolved": "{{ .Alerts.Resolved | toJson }}",
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}


class PagerdutyConfig(StrictModel):
    send_resolved: bool = True
    http_config: HTTPConfig | None = None
    service_key: SecretStr | None = None
    service_key_file: str = ""
    routing_key: SecretStr | None = None
    routing_key_file: str = ""
    url: URL | None = None
    client: str = _tmpl("pagerduty.default.client")
    client_url: str = _tmpl("pagerduty.default.clientURL")
    description: str = _tmpl("pagerduty.default.description")
    details: dict[str, Any] = Field(default_factory=dict)
    images: list[PagerdutyImage] = Field(default_factory=list)
    links: list[PagerdutyLink] = Field(default_factory=list)
    source: str = ""
    severity: str = ""
    class_: str = Field("", alias="class")
    component: str = ""
    group: str = ""
    timeout: GoDuration = 0.0

    @model_validator(mode="after")
    def _check(self) -> PagerdutyConfig:
        if not (
            self.routing_key or self.service_key or self.routing_key_file or self.service_key_file
        ):
            raise ValueError("missing service or routing key in PagerDuty config")
        exclusive(self, "routing_key", "routing_key_file")
        exclusive(self, "service_key", "service_key_file")
        if not self.source:
            self.source = self.client
        self.details = {**PAGERDUTY_DEFAULT_DETAILS, **self.details}
        return self


class SlackConfirmationField(StrictModel):
    text: str
    title: str = ""
    ok_text: str = ""
    dismiss_text: str = ""


class SlackAction(StrictModel):
    type: str
    text: str
    url: str = ""
    style: str = ""
    name: str = ""
    value: str = ""
    confirm: SlackConfirmationField | None = None

    @model_validator(mode="after")
    def _check(self) -> SlackAction:
        if self.url:
            # A link button: message-action fields do not apply.
            self.name, self.value, self.confirm = "", "", None
        elif not self.name:
            raise ValueError("missing name or url in Slack action configuration")
        return self


class SlackField(StrictModel):
    title: str
    value: str
    short: bool | None = None


class SlackConfig(StrictModel):
    send_resolved: bool = False
    http_config: HTTPConfig | None = None
    api_url: SecretURL | None = None
    api_url_file: str = ""
    app_token: SecretStr | None = None
    app_token_file: str = ""
    app_url: URL | None = None
    channel: str = ""
    username: str = _tmpl("slack.default.username")
    color: str = _tmpl("slack.default.color")
    title: str = _tmpl("slack.default.title")
    title_link: str = _tmpl("slack.default.titlelink")
    pretext: str = _tmpl("slack.default.pretext")
    text: str = _tmpl("slack.default.text")
    message_text: str = ""
    fields: list[SlackField] = Field(default_factory=list)
    short_fields: bool = False
    footer: str = _tmpl("slack.default.footer")
    fallback: str = _tmpl("slack.default.fallback")
    callback_id: str = _tmpl("slack.default.callbackid")
    icon_emoji: str = _tmpl("slack.default.iconemoji")
    icon_url: str = _tmpl("slack.default.iconurl")
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    mrkdwn_in: list[str] = Field(default_factory=list)
    actions: list[SlackAction] = Field(default_factory=list)
    update_message: bool = False
    timeout: GoDuration = 0.0

    @model_validator(mode="after")
    def _check(self) -> SlackConfig:
        exclusive(self, "api_url", "api_url_file")
        exclusive(self, "app_token", "app_token_file")
        if (self.api_url or self.api_url_file) and (self.app_token or self.app_token_file):
            raise ValueError(
                "at most one of api_url/api_url_file & app_token/app_token_file must be configured"
            )
        api = self.api_url.get_secret_value() if self.api_url else ""
        if self.update_message and api != SLACK_BOT_URL:
            raise ValueError(
                "update_message can only be used with bot tokens. "
                f"api_url must be set to {SLACK_BOT_URL}"
            )
        return self


_OPSGENIE_TYPES = ("team", "teams", "user", "escalation", "schedule")


class OpsGenieResponder(StrictModel):
    id: str = ""
    name: str = ""
    username: str = ""
    type: str = ""

    @model_validator(mode="after")
    def _check(self) -> OpsGenieResponder:
        if not (self.id or self.name or self.username):
            raise ValueError("responder has to have at least one of id, username or name specified")
        if "{{" not in self.type:
            self.type = self.type.lower()
            if self.type not in _OPSGENIE_TYPES:
                raise ValueError(
                    f"responder type {self.type!r} is not one of {', '.join(_OPSGENIE_TYPES)}"
                )
        return self


class OpsGenieConfig(StrictModel):
    send_resolved: bool = True
    http_config: HTTPConfig | None = None
    api_key: SecretStr | None = None
    api_key_file: str = ""
    api_url: URL | None = None
    message: str = _tmpl("opsgenie.default.message")
    description: str = _tmpl("opsgenie.default.description")
    source: str = _tmpl("opsgenie.default.source")
    details: dict[str, str] = Field(default_factory=dict)
    entity: str = ""
    responders: list[OpsGenieResponder] = Field(default_factory=list)
    actions: str = ""
    tags: str = ""
    note: str = ""
    priority: str = ""
    update_alerts: bool = False

    @model_validator(mode="after")
    def _check(self) -> OpsGenieConfig:
        exclusive(self, "api_key", "api_key_file")
        return self


class MSTeamsConfig(StrictModel):
    send_resolved: bool = True
    http_config: HTTPConfig | None = None
    webhook_url: SecretURL | None = None
    webhook_url_file: str = ""
    title: str = _tmpl("msteams.default.title")
    summary: str = _tmpl("msteams.default.summary")
    text: str = _tmpl("msteams.default.text")

    @model_validator(mode="after")
    def _check(self) -> MSTeamsConfig:
        if self.webhook_url is None and not self.webhook_url_file:
            raise ValueError("one of webhook_url or webhook_url_file must be configured")
        exclusive(self, "webhook_url", "webhook_url_file")
        return self


class MSTeamsV2Config(StrictModel):
    send_resolved: bool = True
    http_config: HTTPConfig | None = None
    webhook_url: SecretURL | None = None
    webhook_url_file: str = ""
    title: str = _tmpl("msteamsv2.default.title")
    text: str = _tmpl("msteamsv2.default.text")

    @model_validator(mode="after")
    def _check(self) -> MSTeamsV2Config:
        if self.webhook_url is None and not self.webhook_url_file:
            raise ValueError("one of webhook_url or webhook_url_file must be configured")
        exclusive(self, "webhook_url", "webhook_url_file")
        return self


SUPPORTED_KINDS = ("webhook", "email", "pagerduty", "slack", "opsgenie", "msteams", "msteamsv2")
UNSUPPORTED_KINDS = (
    "discord",
    "incidentio",
    "jira",
    "mattermost",
    "pushover",
    "rocketchat",
    "sns",
    "telegram",
    "victorops",
    "webex",
    "wechat",
)


class Receiver(StrictModel):
    name: YamlStr
    labels: dict[str, YamlStr] = Field(default_factory=dict)

    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    pagerduty_configs: list[PagerdutyConfig] = Field(default_factory=list)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    opsgenie_configs: list[OpsGenieConfig] = Field(default_factory=list)
    msteams_configs: list[MSTeamsConfig] = Field(default_factory=list)
    msteamsv2_configs: list[MSTeamsV2Config] = Field(default_factory=list)

    # Accepted so existing configs load; tocsin does not deliver to these. Kept
    # out of repr and dumps: their secrets are not wrapped as SecretStr.
    discord_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    incidentio_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    jira_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    mattermost_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    pushover_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    rocketchat_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    sns_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    telegram_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    victorops_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    webex_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)
    wechat_configs: list[dict[str, Any]] = Field(default_factory=list, repr=False, exclude=True)

    @field_validator("name")
    @classmethod
    def _name_given(cls, v: str) -> str:
        if not v:
            raise ValueError("missing name in receiver")
        return v

    @field_validator("labels")
    @classmethod
    def _label_names(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not is_valid_label_name(k):
                raise ValueError(f"invalid label name {k!r}")
        return v

    @model_validator(mode="after")
    def _name_label(self) -> Receiver:
        given = self.labels.get("name")
        if given is not None and given != self.name:
            raise ValueError(
                f'receiver label "name" must match receiver name {self.name!r}, got {given!r}'
            )
        self.labels = {**self.labels, "name": self.name}
        return self

    def unsupported_kinds(self) -> list[str]:
        """The `<kind>_configs` this receiver uses that tocsin cannot deliver to."""
        return [k for k in UNSUPPORTED_KINDS if getattr(self, f"{k}_configs")]

    def integrations(self) -> list[tuple[str, int, StrictModel]]:
        """Every supported integration as (kind, index, config), in a stable order."""
        out: list[tuple[str, int, StrictModel]] = []
        for kind in SUPPORTED_KINDS:
            for i, cfg in enumerate(getattr(self, f"{kind}_configs")):
                out.append((kind, i, cfg))
        return out
