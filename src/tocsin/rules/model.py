"""Rule groups as loaded from Prometheus rule files (plain data, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Datasource:
    """A remote Prometheus-compatible API a group evaluates against (tocsin extension)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    bearer_token: str | None = None
    timeout: float = 30.0
    tls_insecure_skip_verify: bool = False


@dataclass(frozen=True)
class RuleSpec:
    """One recording (`record`) or alerting (`alert`) rule, as written."""

    expr: str
    record: str = ""
    alert: str = ""
    for_: float = 0.0
    keep_firing_for: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    line: int | None = None

    @property
    def name(self) -> str:
        return self.alert or self.record

    @property
    def is_alert(self) -> bool:
        return bool(self.alert)


@dataclass(frozen=True)
class GroupSpec:
    """A rule group. `interval` None means the manager's default interval."""

    name: str
    file: str
    rules: tuple[RuleSpec, ...]
    interval: float | None = None
    query_offset: float | None = None
    limit: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    datasource: Datasource | None = None
    line: int | None = None

    @property
    def key(self) -> str:
        """Prometheus's group key: file and name."""
        return f"{self.file};{self.name}"
