"""The Alertmanager config file as pydantic models (layer 1: strict parsing).

Field names are Alertmanager's YAML keys. Checks that need only one block
(label names, regexes, group_by rules, non-zero intervals, mutually
exclusive secrets in `global`) run here; `defaults.py` then fills in what
`global` provides and `checks.py` checks references across the file.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from tocsin.alerting.config.common import (
    URL,
    Duration,
    HostPort,
    HTTPConfig,
    NullableStr,
    SecretURL,
    StrictModel,
    TLSConfig,
    YamlStr,
)
from tocsin.alerting.config.receivers import Receiver
from tocsin.alerting.matchers import (
    MatcherError,
    is_valid_label_name,
    new_matcher,
    parse_matchers,
    sort_matchers,
)
from tocsin.alerting.timeintervals import (
    TimeInterval,
    TimeIntervals,
    make_interval,
    parse_day_of_month_range,
    parse_month_range,
    parse_time_range,
    parse_weekday_range,
    parse_year_range,
)
from tocsin.tsdb.types import LabelMatcher, MatchOp


class GlobalConfig(StrictModel):
    resolve_timeout: Duration = 300.0
    http_config: HTTPConfig = Field(default_factory=HTTPConfig)

    smtp_from: YamlStr = ""
    smtp_hello: YamlStr = "localhost"
    smtp_smarthost: HostPort = ""
    smtp_auth_username: YamlStr = ""
    smtp_auth_password: SecretStr | None = None
    smtp_auth_password_file: str = ""
    smtp_auth_secret: SecretStr | None = None
    smtp_auth_secret_file: str = ""
    smtp_auth_identity: YamlStr = ""
    smtp_require_tls: bool = True
    smtp_tls_config: TLSConfig = Field(default_factory=TLSConfig)
    smtp_force_implicit_tls: bool | None = None

    slack_api_url: SecretURL | None = None
    slack_api_url_file: str = ""
    slack_app_token: SecretStr | None = None
    slack_app_token_file: str = ""
    slack_app_url: URL = "https://slack.com/api/chat.postMessage"

    pagerduty_url: URL = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: URL = "https://api.opsgenie.com/"
    opsgenie_api_key: SecretStr | None = None
    opsgenie_api_key_file: str = ""

    # Settings of integrations tocsin does not deliver to: accepted, unused.
    jira_api_url: URL | None = None
    wechat_api_url: URL = "https://qyapi.weixin.qq.com/cgi-bin/"
    wechat_api_secret: SecretStr | None = None
    wechat_api_secret_file: str = ""
    wechat_api_corp_id: str = ""
    victorops_api_url: URL = "https://alert.victorops.com/integrations/generic/20131114/alert/"
    victorops_api_key: SecretStr | None = None
    victorops_api_key_file: str = ""
    telegram_api_url: URL = "https://api.telegram.org"
    telegram_bot_token: SecretStr | None = None
    telegram_bot_token_file: str = ""
    webex_api_url: URL = "https://webexapis.com/v1/messages"
    rocketchat_api_url: URL = "https://open.rocket.chat/"
    rocketchat_token: SecretStr | None = None
    rocketchat_token_file: str = ""
    rocketchat_token_id: SecretStr | None = None
    rocketchat_token_id_file: str = ""
    mattermost_webhook_url: SecretURL | None = None
    mattermost_webhook_url_file: str = ""


def _check_label_map(v: dict[str, Any], *, classic: bool) -> None:
    for k in v:
        if not is_valid_label_name(k, classic=classic):
            raise ValueError(f"invalid label name {k!r}")


def _parse_matcher_lines(lines: list[str]) -> list[LabelMatcher]:
    out: list[LabelMatcher] = []
    for line in lines:
        try:
            out.extend(parse_matchers(line))
        except MatcherError as exc:
            raise ValueError(f"invalid matcher: {exc}") from None
    return out


def legacy_matchers(
    match: dict[str, str] | None, match_re: dict[str, str] | None
) -> list[LabelMatcher]:
    """`match` / `match_re` as matchers. A regex reads back as `^(?:X)$`, as
    Alertmanager stores it (amtool prints it that way)."""
    out = [new_matcher(k, MatchOp.EQ, v) for k, v in (match or {}).items()]
    out += [new_matcher(k, MatchOp.RE, f"^(?:{v})$") for k, v in (match_re or {}).items()]
    return out


def _regex_value(v: Any) -> Any:
    if v is None:
        raise ValueError("invalid regexp value: empty (give a regular expression)")
    if isinstance(v, bool | int | float):
        v = str(v).lower() if isinstance(v, bool) else str(v)
    if isinstance(v, str):
        try:
            new_matcher("x", MatchOp.RE, v)
        except MatcherError as exc:
            raise ValueError(f"invalid regexp value: {exc}") from None
    return v


def _matcher_line(v: Any) -> Any:
    if isinstance(v, str):
        _parse_matcher_lines([v])
    return v


MatchRegex = Annotated[str, BeforeValidator(_regex_value)]
"""A `match_re` value: a regular expression, anchored when used."""

MatcherLine = Annotated[str, BeforeValidator(_matcher_line)]
"""One entry of a `matchers:` list, e.g. `severity=~"warning|critical"`."""


class RouteConfig(StrictModel):
    receiver: YamlStr = ""
    group_by: list[YamlStr] | None = None
    continue_: bool = Field(False, alias="continue")
    match: dict[str, NullableStr] | None = None
    match_re: dict[str, MatchRegex] | None = None
    matchers: list[MatcherLine] | None = None
    mute_time_intervals: list[YamlStr] = Field(default_factory=list)
    active_time_intervals: list[YamlStr] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    labels: dict[str, YamlStr] = Field(default_factory=dict)

    @field_validator("match")
    @classmethod
    def _match_names(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None:
            _check_label_map(v, classic=True)
        return v

    @field_validator("match_re")
    @classmethod
    def _match_re_names(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None:
            _check_label_map(v, classic=True)
        return v

    @field_validator("labels")
    @classmethod
    def _label_names(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not is_valid_label_name(k):
                raise ValueError(f"invalid label name {k!r} in route labels")
        return v

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        seen: set[str] = set()
        for name in v:
            if name != "..." and not is_valid_label_name(name):
                raise ValueError(f"invalid label name {name!r} in group_by list")
            if name in seen:
                raise ValueError(f"duplicated label {name!r} in group_by")
            seen.add(name)
        if "..." in seen and len(seen) > 1:
            raise ValueError(
                "cannot have wildcard group_by (`...`) and other labels at the same time"
            )
        return v

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _not_zero(cls, v: float | None, info: Any) -> float | None:
        if v is not None and v == 0:
            raise ValueError(f"{info.field_name} cannot be zero")
        return v

    @property
    def group_by_all(self) -> bool:
        return self.group_by is not None and "..." in self.group_by

    def all_matchers(self) -> list[LabelMatcher]:
        """match, match_re and matchers together, in Alertmanager's order."""
        extra = _parse_matcher_lines(self.matchers) if self.matchers else []
        return sort_matchers(legacy_matchers(self.match, self.match_re) + extra)


class InhibitRuleConfig(StrictModel):
    name: str = ""
    source_match: dict[str, NullableStr] | None = None
    source_match_re: dict[str, MatchRegex] | None = None
    source_matchers: list[MatcherLine] | None = None
    target_match: dict[str, NullableStr] | None = None
    target_match_re: dict[str, MatchRegex] | None = None
    target_matchers: list[MatcherLine] | None = None
    equal: list[YamlStr] = Field(default_factory=list)

    @field_validator("source_match", "target_match")
    @classmethod
    def _match_names(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None:
            _check_label_map(v, classic=True)
        return v

    @field_validator("source_match_re", "target_match_re")
    @classmethod
    def _match_re_names(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None:
            _check_label_map(v, classic=True)
        return v

    @field_validator("equal")
    @classmethod
    def _equal_names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not is_valid_label_name(name):
                raise ValueError(f"invalid label name {name!r} in equal list")
        return v

    def source(self) -> list[LabelMatcher]:
        extra = _parse_matcher_lines(self.source_matchers) if self.source_matchers else []
        return legacy_matchers(self.source_match, self.source_match_re) + extra

    def target(self) -> list[LabelMatcher]:
        extra = _parse_matcher_lines(self.target_matchers) if self.target_matchers else []
        return legacy_matchers(self.target_match, self.target_match_re) + extra


class TimeRangeConfig(StrictModel):
    start_time: YamlStr = ""
    end_time: YamlStr = ""

    @model_validator(mode="after")
    def _check(self) -> TimeRangeConfig:
        parse_time_range(self.start_time, self.end_time)
        return self


class TimeIntervalSpec(StrictModel):
    times: list[TimeRangeConfig] | None = None
    weekdays: list[YamlStr] | None = None
    days_of_month: list[YamlStr] | None = None
    months: list[YamlStr] | None = None
    years: list[YamlStr] | None = None
    location: str | None = None

    _built: TimeInterval | None = None

    @model_validator(mode="after")
    def _build(self) -> TimeIntervalSpec:
        self._built = make_interval(
            times=[parse_time_range(t.start_time, t.end_time) for t in self.times]
            if self.times is not None
            else None,
            weekdays=[parse_weekday_range(w) for w in self.weekdays]
            if self.weekdays is not None
            else None,
            days_of_month=[parse_day_of_month_range(d) for d in self.days_of_month]
            if self.days_of_month is not None
            else None,
            months=[parse_month_range(m) for m in self.months] if self.months is not None else None,
            years=[parse_year_range(y) for y in self.years] if self.years is not None else None,
            location=self.location,
        )
        return self

    def interval(self) -> TimeInterval:
        assert self._built is not None
        return self._built


class NamedTimeInterval(StrictModel):
    name: YamlStr = ""
    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_given(cls, v: str) -> str:
        if not v:
            raise ValueError("missing name in time interval")
        return v


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "<secret>"
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


class AlertmanagerConfig(StrictModel):
    """A whole Alertmanager config file, defaults applied and references checked."""

    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    route: RouteConfig | None = None
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    receivers: list[Receiver] = Field(default_factory=list)
    templates: list[str] = Field(default_factory=list)
    mute_time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    # Alertmanager's own tracing / event recording settings: accepted, unused.
    tracing: dict[str, Any] = Field(default_factory=dict)
    event_recorder: dict[str, Any] = Field(default_factory=dict)

    _base_dir: str = PrivateAttr(default="")

    @property
    def base_dir(self) -> str:
        """Directory of the file it came from; relative template paths start there."""
        return self._base_dir

    @base_dir.setter
    def base_dir(self, value: str) -> None:
        self._base_dir = value

    @field_validator("global_", mode="before")
    @classmethod
    def _empty_global(cls, v: Any) -> Any:
        # `global:` with nothing under it means all defaults.
        return {} if v is None else v

    def receiver(self, name: str) -> Receiver:
        for r in self.receivers:
            if r.name == name:
                return r
        raise KeyError(f"no receiver named {name!r}")

    def unsupported_receivers(self) -> dict[str, list[str]]:
        """Receiver name -> the `<kind>_configs` in it tocsin cannot deliver to."""
        return {r.name: kinds for r in self.receivers if (kinds := r.unsupported_kinds())}

    def masked(self) -> dict[str, Any]:
        """The effective config as plain data, every secret shown as `<secret>`
        (what Alertmanager's status API returns)."""
        return _mask(self.model_dump(by_alias=True, exclude_none=True))

    def template_patterns(self) -> list[str]:
        """The `templates` globs, relative ones joined to the config's directory."""
        return [
            p if os.path.isabs(p) or not self.base_dir else os.path.join(self.base_dir, p)
            for p in self.templates
        ]

    def time_interval_set(self) -> TimeIntervals:
        """All named intervals, ready for `active(name, t)`."""
        return TimeIntervals(self.named_time_intervals())

    def named_time_intervals(self) -> dict[str, list[TimeInterval]]:
        """Both `time_intervals` and the legacy `mute_time_intervals`, by name."""
        return {
            ti.name: [spec.interval() for spec in ti.time_intervals]
            for ti in (*self.mute_time_intervals, *self.time_intervals)
        }
