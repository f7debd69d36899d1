"""tocsin's own pipeline options, beyond what an Alertmanager config can say.

The Alertmanager config is parsed strictly (an unknown key under `route:` is
an error, as in Alertmanager), so these options do not live in the route
tree. They are set per receiver, in a mapping of their own that tocsin's
config carries beside the Alertmanager section:

    alerting_extensions:
      flap_hold: {transitions: 4, window: 1h}
      receivers:
        venue-manager:
          digest: {cron: "0 8 * * *", timezone: Europe/Stockholm}
        venue-it:
          notify_resolved_when_silenced: true
          rate_limit: {per_second: 0.2, burst: 5}

Every route that delivers to a receiver gets that receiver's options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, ValidationError, field_validator

from tocsin.alerting.config.common import Duration, StrictModel
from tocsin.config.yamlpos import Positions, problems_from_validation_error
from tocsin.errors import ConfigError
from tocsin.notify.retry import RateLimit


class DigestConfig(StrictModel):
    """Deliver on a cron schedule in a time zone instead of on intervals."""

    cron: str
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if not croniter.is_valid(v):
            raise ValueError(f"invalid cron expression {v!r}")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


class RateLimitConfig(StrictModel):
    """At most `burst` sends at once, refilled at `per_second` (a token bucket
    shared by every integration of the receiver)."""

    per_second: float = Field(gt=0)
    burst: int = Field(1, ge=1)


class ReceiverOptions(StrictModel):
    notify_resolved_when_silenced: bool = False
    digest: DigestConfig | None = None
    rate_limit: RateLimitConfig | None = None


class FlapHoldConfig(StrictModel):
    """Hold back an alert that changed state more than `transitions` times
    within `window`; it is notified once as flapping instead."""

    transitions: int = Field(4, ge=1)
    window: Duration = 3600.0


class AlertingExtensions(StrictModel):
    receivers: dict[str, ReceiverOptions] = Field(default_factory=dict)
    flap_hold: FlapHoldConfig | None = None

    def for_receiver(self, name: str) -> ReceiverOptions:
        return self.receivers.get(name) or _DEFAULT

    def rate_limits(self) -> dict[str, RateLimit]:
        """Receiver name -> its send rate limit, for the notify RateLimiter."""
        return {
            name: RateLimit(o.rate_limit.per_second, o.rate_limit.burst)
            for name, o in self.receivers.items()
            if o.rate_limit is not None
        }

    def check_receivers(self, known: Mapping[str, Any] | list[str]) -> list[str]:
        """Names of receivers given options that the Alertmanager config lacks."""
        return [n for n in self.receivers if n not in known]


_DEFAULT = ReceiverOptions()


def parse_extensions(data: Any, file: str = "<config>") -> AlertingExtensions:
    """Validate the `alerting_extensions` mapping. Raises ConfigError."""
    try:
        return AlertingExtensions.model_validate(data or {})
    except ValidationError as exc:
        positions = Positions(file)
        raise ConfigError(problems_from_validation_error(exc, positions, data)) from None
