"""tocsin's own configuration file, as a pydantic schema.

Each stage owns the model of its own section (sources, detection, tsdb,
simulator); this module only composes them and checks what spans sections.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tocsin.detect.config import DetectionConfig
from tocsin.sim.config import SimConfig
from tocsin.sources.config import SourceConfig
from tocsin.tsdb.config import Duration, ScrapeConfig, StorageConfig

DEFAULT_PORT = 9095


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Strict):
    listen: str = Field(
        default=f"127.0.0.1:{DEFAULT_PORT}", description="host:port the HTTP API listens on."
    )
    external_url: str | None = Field(
        default=None, description="URL users reach tocsin at (links in notifications)."
    )

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, e.g. 127.0.0.1:{DEFAULT_PORT}")
        return v

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def url(self) -> str:
        return self.external_url or f"http://{self.listen}"


class SimulatorSection(_Strict):
    """Run the built-in fleet simulator inside tocsin (the demo)."""

    enabled: bool = False
    listen: str = "127.0.0.1:9096"
    fleet: SimConfig = Field(default_factory=SimConfig)
    scenario: Path | None = Field(default=None, description="Fault scenario YAML file.")


class GlobalConfig(_Strict):
    """Prometheus's `global:` settings that tocsin's rule engine uses."""

    evaluation_interval: Duration = Field(
        default=60.0, description="Default interval of rule groups without their own."
    )
    external_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels added to every alert the rules send."
    )


class QueryConfig(_Strict):
    """Limits of PromQL queries (Prometheus's --query.* flags), for the API and rules."""

    timeout: Duration = Field(
        default=120.0,
        gt=0,
        description="Longest a query (API request or rule evaluation) may run; a request's "
        "`timeout` parameter can only lower it.",
    )
    max_samples: int = Field(
        default=50_000_000, gt=0, description="Most samples one query may load before it fails."
    )
    lookback_delta: Duration = Field(
        default=300.0, gt=0, description="How far an instant selector looks back for a sample."
    )


class TocsinConfig(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    server: ServerConfig = Field(default_factory=ServerConfig)
    database: str = Field(
        default="sqlite:///data/tocsin.db",
        description="SQLAlchemy URL of the state store: sqlite:///path or "
        "postgresql+psycopg://user@host/db.",
    )
    include: list[str] = Field(
        default_factory=list,
        description="Further config files (globs, relative to this file) merged into this one.",
    )
    sources: list[SourceConfig] = Field(default_factory=list)
    detection: DetectionConfig = DetectionConfig()
    simulator: SimulatorSection = Field(default_factory=SimulatorSection)
    query: QueryConfig = Field(
        default_factory=QueryConfig, description="PromQL query limits: see docs/query-api.md."
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Time-series storage: see docs/tsdb.md."
    )
    scrape_configs: list[ScrapeConfig] = Field(
        default_factory=list, description="Prometheus scrape jobs: see docs/tsdb.md."
    )
    rule_files: list[str] = Field(
        default_factory=list,
        description="Prometheus rule files (globs, relative to this file): see docs/rules.md.",
    )
    # Both are validated by their own loaders (with this file's positions),
    # so the schema only keeps them as data here.
    alerting: dict[str, Any] | None = Field(
        default=None,
        description="An Alertmanager config inline, or `{config_file: alertmanager.yml}`.",
    )
    alerting_extensions: dict[str, Any] | None = Field(
        default=None, description="tocsin's options beyond Alertmanager: see docs/alerting.md."
    )

    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    def redacted(self) -> dict[str, Any]:
        """The config as JSON-able data with every secret masked."""
        return self.model_dump(mode="json")
