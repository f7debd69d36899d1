from __future__ import annotations

import pytest
from pydantic import ValidationError

from tocsin.config.yamlpos import load_yaml, problems_from_validation_error
from tocsin.tsdb.config import TsdbConfig, format_duration, parse_duration

YAML = """\
storage:
  retention: 30d
  flush_interval: 15s
  downsampling:
    - resolution: 5m
      retention: 400d
scrape_configs:
  - job_name: node
    scrape_interval: 15s
    basic_auth: {username: prom, password: s3cret}
    static_configs:
      - targets: ["127.0.0.1:9100"]
        labels: {site: paris}
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: "node_.*"
        action: keep
"""


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15s", 15),
        ("1m30s", 90),
        ("2h", 7200),
        ("90d", 90 * 86400),
        ("1w", 604800),
        ("500ms", 0.5),
        ("1y", 365 * 86400),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "15", "1h1d", "-5s", "1.5h", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid duration"):
        parse_duration(text)


def test_full_config_and_defaults() -> None:
    data, _ = load_yaml(YAML, "tocsin.yml")
    cfg = TsdbConfig.model_validate(data)
    assert cfg.storage.retention == 30 * 86400
    assert cfg.storage.head_window == 3 * 3600  # default
    assert [lv.retention for lv in cfg.storage.downsampling] == [400 * 86400]
    job = cfg.scrape_configs[0]
    assert (job.scrape_interval, job.scrape_timeout, job.metrics_path) == (15, 10, "/metrics")
    assert job.metric_relabel_configs[0].replacement == "$1"
    assert job.basic_auth is not None
    assert "s3cret" not in repr(cfg)
    assert "s3cret" not in cfg.model_dump_json()
    dumped = cfg.model_dump(mode="json")
    assert dumped["storage"]["flush_interval"] == "15s"


@pytest.mark.parametrize(
    ("interval", "timeout", "expected"),
    [("5s", None, 5.0), ("1m", None, 10.0), ("5s", "2s", 2.0), ("20s", "15s", 15.0)],
)
def test_scrape_timeout_defaults_to_at_most_the_interval(
    interval: str, timeout: str | None, expected: float
) -> None:
    # Prometheus cuts the default timeout to a shorter interval instead of failing.
    job: dict[str, object] = {"job_name": "a", "scrape_interval": interval}
    if timeout is not None:
        job["scrape_timeout"] = timeout
    cfg = TsdbConfig.model_validate({"scrape_configs": [job]})
    assert cfg.scrape_configs[0].scrape_timeout == expected


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        ("storage:\n  retention: 1x\n", "storage.retention", "not a valid duration"),
        ("storage:\n  head_window: 1h\n", "storage", "at least 2h10m"),
        ("storage:\n  downsampling: [{resolution: 7m}]\n", "storage", "must divide 2h"),
        ("storage:\n  flush_intervall: 1m\n", "storage.flush_intervall", "unknown field"),
        (
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
            "scrape_configs[0]",
            "scrape_timeout must not be greater",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['http://x:1/m']}]\n",
            "scrape_configs[0].static_configs[0].targets",
            "host:port",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    metric_relabel_configs: [{action: replace}]\n",
            "scrape_configs[0].metric_relabel_configs[0]",
            "needs target_label",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    metric_relabel_configs: [{action: hashmod}]\n",
            "scrape_configs[0].metric_relabel_configs[0].action",
            "",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n"
            "      - {source_labels: [a], regex: '(', action: keep}\n",
            "scrape_configs[0].metric_relabel_configs[0].regex",
            "invalid regex",
        ),
        (  # not Go syntax (Prometheus refuses it); Python's re took it
            "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n"
            "      - {source_labels: [a], regex: 'a(?=b)', action: keep}\n",
            "scrape_configs[0].metric_relabel_configs[0].regex",
            "invalid regex",
        ),
        (
            "scrape_configs:\n  - job_name: a\n  - job_name: a\n",
            "",
            "duplicate job_name",
        ),
    ],
)
def test_errors_name_file_line_and_field(patch: str, field: str, message: str) -> None:
    data, positions = load_yaml(patch, "tocsin.yml")
    with pytest.raises(ValidationError) as info:
        TsdbConfig.model_validate(data)
    problems = problems_from_validation_error(info.value, positions, data)
    assert any(p.field == field and message in p.message for p in problems), problems
    assert all(p.file == "tocsin.yml" and p.line is not None for p in problems)
