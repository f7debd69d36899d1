from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from tocsin.sources.config import (
    HeartbeatSourceConfig,
    HttpCheckSourceConfig,
    HttpJsonSourceConfig,
    SourceConfigList,
    TcpCheckSourceConfig,
    parse_status_ranges,
)

from .helpers import ADAPTER, vendor_raw


class Holder(BaseModel):
    sources: SourceConfigList


def test_defaults_of_common_fields() -> None:
    cfg = ADAPTER.validate_python(
        {"type": "tcp_check", "name": "db", "targets": [{"id": "pg", "host": "h", "port": 5432}]}
    )
    assert isinstance(cfg, TcpCheckSourceConfig)
    assert (cfg.interval, cfg.timeout, cfg.concurrency, cfg.budget_per_minute) == (60, 10, 8, None)
    b, cb = cfg.backoff, cfg.circuit_breaker
    assert (b.initial, b.max, b.multiplier, b.jitter, b.retries) == (1, 300, 2, 0.2, 2)
    assert (cb.failure_threshold, cb.reset_timeout, cb.half_open_max_calls) == (5, 60, 1)
    assert cfg.labels == {}


def test_discriminated_union_picks_each_type() -> None:
    raws: list[dict[str, Any]] = [
        vendor_raw("http://h"),
        {"type": "http_check", "name": "w", "targets": [{"id": "a", "url": "http://h/"}]},
        {"type": "tcp_check", "name": "t", "targets": [{"id": "a", "host": "h", "port": 1}]},
        {"type": "heartbeat", "name": "b", "targets": [{"id": "a", "period": 60}]},
    ]
    kinds = [type(ADAPTER.validate_python(r)) for r in raws]
    assert kinds == [
        HttpJsonSourceConfig,
        HttpCheckSourceConfig,
        TcpCheckSourceConfig,
        HeartbeatSourceConfig,
    ]


def test_http_json_defaults() -> None:
    cfg = ADAPTER.validate_python(
        {
            "type": "http_json",
            "name": "v",
            "url": "http://h/z",
            "items": "zones",
            "mapping": {"id": "id", "up": "ok"},
        }
    )
    p = cfg.pagination
    assert (p.style, p.page_param, p.size_param, p.page_size, p.start_page) == (
        "none",
        "page",
        "page_size",
        500,
        1,
    )
    assert (p.cursor_param, p.next_cursor, p.next_page, p.max_pages) == (
        "cursor",
        None,
        None,
        10000,
    )
    assert cfg.mapping.latency_scale == 1.0
    assert (cfg.etag, cfg.etag_cache_size, cfg.recheck_url, cfg.recheck_limit) == (
        True,
        1024,
        None,
        100,
    )


BAD = [
    pytest.param({"type": "ftp"}, "type", id="unknown-type"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    pytest.param({"mapping": {"color": "x"}}, "color", id="unknown-nested-field"),
    pytest.param({"interval": 0}, "interval", id="interval-zero"),
    pytest.param({"concurrency": 0}, "concurrency", id="concurrency-zero"),
    pytest.param({"budget_per_minute": -1}, "budget_per_minute", id="budget-negative"),
    pytest.param({"backoff": {"initial": 10, "max": 5}}, "must not exceed max", id="backoff-order"),
    pytest.param({"backoff": {"jitter": 2}}, "jitter", id="jitter-range"),
    pytest.param({"circuit_breaker": {"failure_threshold": 0}}, "failure_threshold", id="cb"),
    pytest.param({"labels": {"bad-name": "x"}}, "bad-name", id="label-name"),
    pytest.param({"labels": {"__meta": "x"}}, "__meta", id="reserved-label"),
    pytest.param({"items": "zones["}, "invalid JMESPath", id="items-expr"),
    pytest.param({"mapping": {"up": "status =="}}, "invalid JMESPath", id="up-expr"),
    pytest.param({"mapping": {"labels": {"zone": "a[["}}}, "invalid JMESPath", id="label-expr"),
    pytest.param({"mapping": {"fields": {"bad field": "v"}}}, "bad field", id="field-name"),
    pytest.param({"url": "http://h/{pge}"}, "pge", id="url-unknown-var"),
    pytest.param({"url": "http://h/{page"}, "bad URL template", id="url-broken"),
    pytest.param({"url": "ftp://h/"}, "http://", id="url-scheme"),
    pytest.param({"recheck_url": "http://h/zones"}, "{id}", id="recheck-without-id"),
    pytest.param({"recheck_url": "http://h/{id}/{page}"}, "{id}", id="recheck-extra-var"),
    pytest.param({"pagination": {"style": "cursor"}}, "next_cursor", id="cursor-needs-expr"),
    pytest.param({"pagination": {"style": "pages"}}, "style", id="bad-style"),
    pytest.param({"pagination": {"page_size": 0}}, "page_size", id="page-size"),
    pytest.param({"headers": {"Bad Header": "x"}}, "Bad Header", id="header-name"),
    pytest.param({"headers_files": {"X-Key": "/nonexistent/key"}}, "missing", id="header-file"),
    pytest.param({"mapping": {"stale_after": 60}}, "needs last_seen", id="stale-needs-seen"),
    pytest.param({"name": ""}, "name", id="empty-name"),
    pytest.param({"name": "has space"}, "name", id="name-chars"),
]


@pytest.mark.parametrize(("over", "needle"), BAD)
def test_bad_http_json_config_names_the_problem(over: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        ADAPTER.validate_python(vendor_raw("http://h", **over))
    assert needle in str(err.value)


def test_header_in_both_places_is_an_error(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("x")
    with pytest.raises(ValidationError, match="both in headers and headers_files"):
        ADAPTER.validate_python(
            vendor_raw("http://h", headers={"X-API-Key": "a"}, headers_files={"x-api-key": key})
        )


CHECK_BAD = [
    pytest.param(
        {"type": "http_check", "name": "w", "targets": [{"id": "a", "url": "h"}]}, "url", id="url"
    ),
    pytest.param({"type": "http_check", "name": "w", "targets": []}, "targets", id="no-targets"),
    pytest.param(
        {
            "type": "http_check",
            "name": "w",
            "targets": [{"id": "a", "url": "http://x"}, {"id": "a", "url": "http://y"}],
        },
        "'a' appears more than once",
        id="dup-id",
    ),
    pytest.param(
        {
            "type": "http_check",
            "name": "w",
            "expect": {"status": "200-abc"},
            "targets": [{"id": "a", "url": "http://x"}],
        },
        "200-abc",
        id="status-range",
    ),
    pytest.param(
        {
            "type": "http_check",
            "name": "w",
            "expect": {"body_regex": "(("},
            "targets": [{"id": "a", "url": "http://x"}],
        },
        "invalid regular expression",
        id="regex",
    ),
    pytest.param(
        {"type": "tcp_check", "name": "t", "targets": [{"id": "a", "host": "h", "port": 70000}]},
        "port",
        id="port",
    ),
    pytest.param(
        {"type": "heartbeat", "name": "b", "targets": [{"id": "a", "period": 0}]},
        "period",
        id="period",
    ),
    pytest.param(
        {"type": "heartbeat", "name": "b", "targets": [{"id": "a", "period": 5, "grace": -1}]},
        "grace",
        id="grace",
    ),
]


@pytest.mark.parametrize(("raw", "needle"), CHECK_BAD)
def test_bad_check_config_names_the_problem(raw: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        ADAPTER.validate_python(raw)
    assert needle in str(err.value)


def test_source_names_must_be_unique() -> None:
    hb = {"type": "heartbeat", "name": "same", "targets": [{"id": "a", "period": 60}]}
    with pytest.raises(ValidationError, match="'same' is used more than once"):
        Holder.model_validate({"sources": [hb, hb]})
    ok = Holder.model_validate({"sources": [hb, {**hb, "name": "other"}]})
    assert [s.name for s in ok.sources] == ["same", "other"]


def test_secret_headers_are_masked() -> None:
    cfg = ADAPTER.validate_python(vendor_raw("http://h", headers={"Authorization": "Bearer t0p"}))
    assert cfg.headers["Authorization"].get_secret_value() == "Bearer t0p"
    for text in (repr(cfg), cfg.model_dump_json(), str(cfg.model_dump())):
        assert "t0p" not in text


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("200-399", ((200, 399),)),
        (204, ((204, 204),)),
        ([200, "300-302"], ((200, 200), (300, 302))),
        ("200,204", ((200, 200), (204, 204))),
    ],
)
def test_status_ranges(spec: Any, want: tuple[tuple[int, int], ...]) -> None:
    assert parse_status_ranges(spec) == want


@pytest.mark.parametrize("spec", ["399-200", "99", "600", "abc"])
def test_bad_status_ranges(spec: str) -> None:
    with pytest.raises(ValueError, match=r"status|range"):
        parse_status_ranges(spec)
