"""The `detection:` section of the config file.

Strict models (unknown keys are errors). Opening hours are parsed here, at
load time, so a typo in a schedule is a config error rather than a surprise
at 23:00 on a Saturday.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from tocsin.detect.hours import WeeklyHours, parse_hours

#: Longest history a rule may ask for; histories are kept as bits of one int.
MAX_HISTORY = 64


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DownAfter(_Strict):
    """Confirm down when `failures` of the last `of` usable observations failed."""

    failures: int = Field(3, ge=1, le=MAX_HISTORY)
    of: int = Field(5, ge=1, le=MAX_HISTORY)

    @model_validator(mode="after")
    def _failures_fit(self) -> DownAfter:
        if self.failures > self.of:
            raise ValueError(f"failures ({self.failures}) cannot exceed of ({self.of})")
        return self


class Selector(_Strict):
    """Which targets a rule applies to: label equality, optionally per source.

    Evaluated by the detector (`detector._Match`), compiled for its hot loop.
    """

    match: dict[str, str] = Field(default_factory=dict)
    sources: list[str] | None = None


class ConfirmRule(Selector):
    """How many failures confirm down, and how many successes confirm recovery."""

    default: bool = False
    down_after: DownAfter = Field(default_factory=DownAfter)
    up_after: int = Field(2, ge=1, le=MAX_HISTORY)

    @model_validator(mode="after")
    def _default_is_unconditional(self) -> ConfirmRule:
        if self.default and (self.match or self.sources is not None):
            raise ValueError("a `default: true` rule cannot also have `match` or `sources`")
        return self


class FlappingConfig(_Strict):
    """Weighted percent state change over the last `window` results (Nagios style)."""

    enabled: bool = True
    window: int = Field(21, ge=3, le=MAX_HISTORY)
    high: float = Field(30.0, gt=0, le=100)
    low: float = Field(20.0, ge=0, lt=100)

    @model_validator(mode="after")
    def _low_below_high(self) -> FlappingConfig:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class MassChangeConfig(_Strict):
    """Hold a source's targets when too many of them would go down at once."""

    enabled: bool = True
    max_share: float = Field(0.2, gt=0, le=1)
    min_targets: int = Field(20, ge=1)
    # A mass change that lasts this many seconds is taken for a real outage
    # and detection goes on; None holds the states for as long as it lasts.
    accept_after: float | None = Field(None, gt=0)


class ScheduleConfig(Selector):
    """Opening hours: outside them a down (or flapping) target is expected_off."""

    timezone: str | None = None
    timezone_label: str | None = None
    hours: dict[str, str]
    _compiled: WeeklyHours = PrivateAttr()

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str]) -> dict[str, str]:
        parse_hours(value)
        return value

    def model_post_init(self, context: object, /) -> None:
        self._compiled = parse_hours(self.hours)

    @property
    def weekly(self) -> WeeklyHours:
        return self._compiled

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _one_zone_source(self) -> ScheduleConfig:
        if self.timezone is not None and self.timezone_label is not None:
            raise ValueError("give either `timezone` or `timezone_label`, not both")
        return self


def _builtin_rules() -> list[ConfirmRule]:
    return [ConfirmRule(default=True)]


class DetectionConfig(_Strict):
    """Top-level `detection:` section. Every field has a working default."""

    confirm: list[ConfirmRule] = Field(default_factory=_builtin_rules)
    recheck: bool = True
    flapping: FlappingConfig = Field(default_factory=FlappingConfig)
    mass_change: MassChangeConfig = Field(default_factory=MassChangeConfig)
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    unknown_after: float | None = Field(None, gt=0)
    # A target its source's complete sweeps have not listed for this many
    # seconds is dropped (state, stored row, series); None keeps it forever.
    forget_after: float | None = Field(86400.0, gt=0)

    @field_validator("confirm")
    @classmethod
    def _one_default(cls, rules: list[ConfirmRule]) -> list[ConfirmRule]:
        if sum(1 for r in rules if r.default) > 1:
            raise ValueError("at most one confirm rule may have `default: true`")
        return rules

    def history_bits(self) -> int:
        """How many results each target must remember to answer every rule."""
        need = [r.down_after.of for r in self.confirm] + [r.up_after for r in self.confirm]
        need.append(self.flapping.window)
        need.append(DownAfter().of)
        return min(MAX_HISTORY, max(need))
