from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tocsin.tsdb.exposition import ExpositionError, parse_text

TEXT = r"""# HELP http_requests_total The total.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} \
1.458255915e9
metric_without_timestamp_and_labels 12.47
weird{a="x}y", b="with space"} -Inf
nan_metric NaN
trailing_comma{a="1",} +Inf
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds_sum 1.7560473e+07
""".replace("\\\n", "")


def _norm(v: float) -> object:
    return "nan" if math.isnan(v) else v


def test_parser_agrees_with_prometheus_client() -> None:
    ours = [(lb, _norm(v), ts) for lb, v, ts in parse_text(TEXT)]
    theirs = []
    for fam in text_string_to_metric_families(TEXT):
        for s in fam.samples:
            ts = None if s.timestamp is None else round(float(s.timestamp) * 1000)
            theirs.append(({"__name__": s.name, **s.labels}, _norm(s.value), ts))
    assert ours == theirs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("up 1 2 3", "expected 'metric value"),
        ("up abc", "invalid sample value"),
        ("up 1 12.5", "invalid timestamp"),
    ],
)
def test_parse_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ExpositionError, match=message) as info:
        parse_text("# ok\n" + text)
    assert info.value.lineno == 2


@pytest.mark.parametrize("series", ['up{a="1" b="2"} 1', "up{a=1} 1", "9up 1", 'up{a="1",a="2"} 1'])
def test_bad_series_rejected(series: str) -> None:
    with pytest.raises(ExpositionError):
        parse_text(series)
