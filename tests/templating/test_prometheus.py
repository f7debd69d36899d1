# ruff: noqa: E501  (a table of templates reads best one case per line)
"""Prometheus's template functions and alert-template expansion.

Expected outputs are the ones Prometheus documents and asserts for the same
inputs (template_reference.md, template/template_test.go,
common/helpers/templates/time_test.go).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tocsin.templating import TemplateExecError, TemplateParseError
from tocsin.templating.prometheus import (
    Sample,
    check_alert_template,
    expand_alert_template,
    prometheus_template_set,
)

MAX_INT64 = 2**63 - 1

FUNCTION_CASES: list[tuple[str, Any, str]] = [
    # humanize
    ("{{ range . }}{{ humanize . }}:{{ end }}", [0.0, 1.0, 1234567.0, 0.12], "0:1:1.235M:120m:"),
    (
        "{{ range . }}{{ humanize . }}:{{ end }}",
        ["0.0", "1.0", "1234567.0", ".12"],
        "0:1:1.235M:120m:",
    ),
    (
        "{{ range . }}{{ humanize . }}:{{ end }}",
        [0, -1, 1, 1234567, MAX_INT64],
        "0:-1:1:1.235M:9.223E:",
    ),
    (
        "{{ humanize 0.000001234 }} {{ humanize -2500.0 }} {{ humanize 1e27 }}",
        None,
        "1.234u -2.5k 1000Y",
    ),
    # humanize1024
    ("{{ range . }}{{ humanize1024 . }}:{{ end }}", [0.0, 1.0, 1048576.0, 0.12], "0:1:1Mi:0.12:"),
    (
        "{{ range . }}{{ humanize1024 . }}:{{ end }}",
        [0, -1, 1, 1234567, MAX_INT64],
        "0:-1:1:1.177Mi:8Ei:",
    ),
    # humanizeDuration
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        [0, 1, 60, 3600, 86400, 86400 + 3600, -(86400 * 2 + 3600 * 3 + 60 * 4 + 5), 899.99],
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:",
    ),
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        [0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345],
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
    ),
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        ["0", "1", "60", "3600", "86400"],
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:",
    ),
    ("{{ humanizeDuration 90061 }}", None, "1d 1h 1m 1s"),
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        [0, -1, 1, 1234567],
        "0s:-1s:1s:14d 6h 56m 7s:",
    ),
    # non-finite values go through every humanizer
    (
        "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{ humanizeTimestamp . }}:{{ end }}",
        [math.inf, -math.inf, math.nan],
        "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
    ),
    (
        "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{ humanizeTimestamp . }}:{{ end }}",
        ["+Inf", "-Inf", "NaN"],
        "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
    ),
    # humanizePercentage
    (
        "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
        None,
        "-22.22%:0%:12.35%:123.5%",
    ),
    (
        "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
        [0, -1, 1, 1234567, MAX_INT64],
        "0%:-100%:100%:1.235e+08%:9.223e+20%:",
    ),
    ('{{ "0.1234567" | humanizePercentage }}', None, "12.35%"),
    # humanizeTimestamp, toTime, toDuration
    (
        "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
        [0, -1, 1, 1234567, 9223372036],
        "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:",
    ),
    ("{{ 1435065584.128 | humanizeTimestamp }}", None, "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ "1435065584.128" | humanizeTimestamp }}', None, "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ (1435065584.128 | toTime).Format "2006" }}', None, "2015"),
    ('{{ ("1435065584.128" | toTime).Format "2006" }}', None, "2015"),
    ("{{ (1800 | toDuration).String }}", None, "30m0s"),
    ('{{ ("1800" | toDuration).String }}', None, "30m0s"),
    # strings
    ('{{ "aa bb CC" | title }}', None, "Aa Bb CC"),
    # cases.Title word breaks: mids (. : ') join letters, two mids or a break split words
    (
        '{{ "hello-world foo.bar a..b it\'s 3rd x_y" | title }}',
        None,
        "Hello-World Foo.bar A..B It's 3Rd X_y",
    ),
    ('{{ "aa bb CC" | toUpper }}', None, "AA BB CC"),
    ('{{ "aA bB CC" | toLower }}', None, "aa bb cc"),
    ('{{ match "a+" "aa" }} {{ match "a+" "b" }}', None, "true false"),
    ('{{ reReplaceAll "(a)b" "x$1" "ab" }}', None, "xa"),
    ('{{ reReplaceAll "localhost:(.*)" "my.domain:$1" "localhost:3000" }}', None, "my.domain:3000"),
    ('{{ reReplaceAll "(?P<host>[a-z]+):(\\\\d+)" "${host}-$2" "web:80" }}', None, "web-80"),
    ('{{ reReplaceAll "a" "$$" "cat" }}', None, "c$t"),
    # RE2 semantics kept on Python's re: empty matches after a match are skipped,
    # $ is end of text, \d is ASCII, \Q..\E is literal, unknown groups expand to ""
    ('{{ reReplaceAll "a*" "-" "baaac" }}', None, "-b-c-"),
    ('{{ reReplaceAll "x*" "-" "abc" }}', None, "-a-b-c-"),
    ('{{ reReplaceAll "(a)" "$1x" "a" }}|{{ reReplaceAll "(a)" "${1}x" "a" }}', None, "|ax"),
    (r'{{ match "a$" "a\n" }} {{ match "(?m)a$" "a\nb" }}', None, "false true"),
    (r'{{ match "^\\d+$" "123" }} {{ match "\\d" "\u0663" }}', None, "true false"),
    (r'{{ match "^[[:alpha:]]+$" "abc" }} {{ match "\\Qa.b\\E" "axb" }}', None, "true false"),
    ('{{ "<b>" | safeHtml }}', None, "<b>"),
    ('{{ graphLink "up" }}', None, "/graph?g0.expr=up&g0.tab=0"),
    ('{{ tableLink "up" }}', None, "/graph?g0.expr=up&g0.tab=1"),
    (
        '{{ graphLink "rate(x[5m]) > 1" }}',
        None,
        "/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=0",
    ),
    ('{{ urlQueryEscape "a b/c" }}', None, "a+b%2Fc"),
    ('{{ printf "%0.2f" (parseDuration "1h2m10ms") }}', None, "3720.01"),
    ('{{ printf "%0.2f" (parseDuration "-1h2m10ms") }}', None, "-3720.01"),
    ('{{ parseDuration "1d" }} {{ parseDuration "2w" }}', None, "86400 1.2096e+06"),
    # stripPort / stripDomain
    (
        "{{ range . }}{{ stripPort . }}|{{ end }}",
        [
            "foo.example.com",
            "foo.example.com:12345",
            "192.0.2.1",
            "192.0.2.1:12345",
            "2001:0DB8::1",
            "[2001:0DB8::1]:12345",
            "[2001:0DB8::1]::12345",
        ],
        "foo.example.com|foo.example.com|192.0.2.1|192.0.2.1|2001:0DB8::1|2001:0DB8::1|[2001:0DB8::1]::12345|",
    ),
    (
        "{{ range . }}{{ stripDomain . }}|{{ end }}",
        [
            "foo.example.com",
            "foo.example.com:12345",
            "192.0.2.1",
            "192.0.2.1:12345",
            "2001:0DB8::1",
            "[2001:0DB8::1]:12345",
            "[2001:0DB8::1]::12345",
        ],
        "foo|foo:12345|192.0.2.1|192.0.2.1:12345|2001:0DB8::1|[2001:0DB8::1]:12345|[2001:0DB8::1]::12345|",
    ),
    # others
    ('{{define "x"}}{{.arg0}} {{.arg1}}{{end}}{{template "x" (args 1 "2")}}', None, "1 2"),
    ('{{ define "a" }}x{{ end }}{{ $name := "a"}}{{ tmpl $name . }}', None, "x"),
    ("{{ pathPrefix }}", None, "/path/prefix"),
    ("{{ externalURL }}", None, "http://testhost:9090/path/prefix"),
    ("{{ now }}", None, "1.353755652e+09"),
    ('{{ (now | toTime).Format "Mon Jan 2 15:04:05 2006" }}', None, "Sat Nov 24 11:14:12 2012"),
    (
        '{{ ("-30m" | parseDuration | toDuration | (now | toTime).Add).UnixMilli }}',
        None,
        "1353753852000",
    ),
    ("{{ .Foo }}", None, "<no value>"),
]


def _query(expr: str) -> list[Any]:
    results = {
        "metric": [
            ({"__name__": "metric", "instance": "b"}, 21.0),
            ({"__name__": "metric", "instance": "a"}, 11.0),
        ],
        "strmetric": [({"__name__": "metric", "__value__": "a"}, 11.0)],
        "missing": [],
    }
    return results[expr]


def _set() -> Any:
    return prometheus_template_set(
        query_fn=_query, timestamp=1353755652.0, external_url="http://testhost:9090/path/prefix"
    )


@pytest.mark.parametrize(
    ("text", "data", "expected"), FUNCTION_CASES, ids=[c[0][:60] for c in FUNCTION_CASES]
)
def test_prometheus_functions(text: str, data: Any, expected: str) -> None:
    assert _set().execute_text(text, data, name="test") == expected


QUERY_CASES: list[tuple[str, str]] = [
    ('{{ query "metric" | first | value }}', "21"),
    ('{{ query "metric" | first | label "instance" }}', "b"),
    ('{{ query "metric" | first | label "foo" }}', ""),
    ('{{ $x := query "metric" | first }}{{ $x.Labels.foo }}', ""),
    ('{{ query "strmetric" | first | strvalue }}', "a"),
    (
        '{{ range query "metric" | sortByLabel "instance" }}{{ .Labels.instance }}:{{ .Value }}: {{ end }}',
        "a:11: b:21: ",
    ),
    ('{{ len (query "metric") }}', "2"),
    ('{{ with query "missing" }}{{ . }}{{ else }}none{{ end }}', "none"),
]


@pytest.mark.parametrize(("text", "expected"), QUERY_CASES, ids=[c[0] for c in QUERY_CASES])
def test_query_functions(text: str, expected: str) -> None:
    assert _set().execute_text(text, None, name="test") == expected


ERROR_CASES: list[tuple[str, Any, str]] = [
    (
        '{{ humanize "one" }}',
        None,
        'template: test:1:3: executing "test" at <humanize "one">: error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax',
    ),
    (
        '{{ humanize1024 "one" }}',
        None,
        'template: test:1:3: executing "test" at <humanize1024 "one">: error calling humanize1024: strconv.ParseFloat: parsing "one": invalid syntax',
    ),
    (
        '{{ humanizeDuration "one" }}',
        None,
        'template: test:1:3: executing "test" at <humanizeDuration "one">: error calling humanizeDuration: strconv.ParseFloat: parsing "one": invalid syntax',
    ),
    (
        '{{ "one" | humanizePercentage }}',
        None,
        'template: test:1:11: executing "test" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing "one": invalid syntax',
    ),
    (
        "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
        [-(2**63), MAX_INT64],
        'template: test:1:16: executing "test" at <humanizeTimestamp .>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64',
    ),
    (
        '{{ query "missing" | first }}',
        None,
        'template: test:1:21: executing "test" at <first>: error calling first: first() called on vector with no elements',
    ),
    (
        '{{ (query "missing").banana }}',
        None,
        'template: test:1:10: executing "test" at <"missing">: can\'t evaluate field banana in type template.queryResult',
    ),
    (
        "{{ 1 | first }}",
        None,
        'template: test:1:7: executing "test" at <first>: wrong type for value; expected template.queryResult; got int',
    ),
    (
        '{{ reReplaceAll "(" "x" "y" }}',
        None,
        'template: test:1:3: executing "test" at <reReplaceAll "(" "x" "y">: error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: missing ), unterminated subpattern: `(`',
    ),
    (
        '{{ parseDuration "5 minutes" }}',
        None,
        'template: test:1:3: executing "test" at <parseDuration "5 minutes">: error calling parseDuration: not a valid duration string: "5 minutes"',
    ),
    (
        "{{ humanize .x }}",
        {"x": True},
        'template: test:1:3: executing "test" at <humanize .x>: error calling humanize: can\'t convert bool to float',
    ),
]


@pytest.mark.parametrize(("text", "data", "expected"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_prometheus_function_errors(text: str, data: Any, expected: str) -> None:
    with pytest.raises(TemplateExecError) as info:
        _set().execute_text(text, data, name="test")
    assert str(info.value) == expected


def test_alert_template_preamble_variables() -> None:
    text = (
        "{{ $labels.instance }} of {{ $labels.job }} is down "
        "({{ $value | humanizePercentage }}) in {{ $externalLabels.region }}; "
        "see {{ $externalURL }} and {{ .Labels.job }}/{{ .Value }}"
    )
    out = expand_alert_template(
        text,
        labels={"instance": "zone-7:9100", "job": "players"},
        external_labels={"region": "eu-north"},
        value=0.25,
        external_url="http://tocsin:9090",
    )
    assert out == (
        "zone-7:9100 of players is down (25%) in eu-north; see http://tocsin:9090 and players/0.25"
    )


def test_alert_template_missing_label_is_empty() -> None:
    assert expand_alert_template("[{{ $labels.nope }}]", {"a": "1"}) == "[]"
    assert expand_alert_template('[{{ index $labels "nope" }}]', {"a": "1"}) == "[]"


def test_alert_template_plain_text_passes_through() -> None:
    assert expand_alert_template("no templating here", {}) == "no templating here"


def test_alert_template_query_now_and_value() -> None:
    calls: list[str] = []

    def query(expr: str) -> list[Any]:
        calls.append(expr)
        return [Sample({"__name__": "zone_up", "zone": "lobby"}, 0.0)]

    out = expand_alert_template(
        '{{ with query "zone_up == 0" }}{{ (first .).Labels.zone }}{{ end }} at {{ now | humanizeTimestamp }}',
        labels={},
        value=1.0,
        query_fn=query,
        timestamp=1700000000.5,
    )
    assert out == "lobby at 2023-11-14 22:13:20.5 +0000 UTC"
    assert calls == ["zone_up == 0"]


def test_alert_template_comparison_with_int_constant_errors_like_go() -> None:
    # Go compares float64 $value with the int constant 80 as incompatible types.
    with pytest.raises(TemplateExecError, match="incompatible types for comparison"):
        expand_alert_template("{{ if gt $value 80 }}high{{ end }}", {}, value=90.0)
    assert expand_alert_template("{{ if gt $value 80.0 }}high{{ end }}", {}, value=90.0) == "high"


def test_alert_template_errors_raise_or_inline() -> None:
    with pytest.raises(TemplateParseError, match='function "nothere" not defined'):
        expand_alert_template("{{ $value | nothere }}", {}, name="__alert_Test")
    inline = expand_alert_template("{{ $value | toUpper }}", {}, value=1.0, errors="inline")
    assert inline == (
        '<error expanding template: template: __alert:1:12: executing "__alert" at <toUpper>: '
        "wrong type for value; expected string; got float64>"
    )


def test_check_alert_template() -> None:
    check_alert_template("{{ $labels.instance }} {{ $value }}")
    with pytest.raises(TemplateParseError, match="unexpected EOF"):
        check_alert_template("{{ if $value }}x")


LABELS_ONLY: list[tuple[str, bool]] = [
    ("no templating", True),
    ("{{ $labels.zone }} in {{ .Labels.venue }}", True),
    ("{{ $externalLabels.region }} {{ $externalURL }} {{ $.Labels.x }}", True),
    ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }}{{ end }}", True),
    ("{{ $labels.instance | stripPort | toUpper }}", True),
    ("{{ $value }}", False),
    ("{{ .Value | humanize }}", False),
    ("{{ $.Value }}", False),
    ("{{ $ }}", False),
    ("{{ . }}", False),
    ('{{ query "up" | len }}', False),
    ("{{ now }}", False),
    ('{{ define "x" }}{{ . }}{{ end }}{{ template "x" $labels }}', False),
    ("{{ if gt $value 1.0 }}high{{ end }}", False),
]


@pytest.mark.parametrize(("text", "expected"), LABELS_ONLY, ids=[c[0] for c in LABELS_ONLY])
def test_depends_only_on_labels(text: str, expected: bool) -> None:
    from tocsin.templating.prometheus import depends_only_on_labels

    assert depends_only_on_labels(text) is expected


def test_fleet_expander_memoises_label_only_templates() -> None:
    from tocsin.templating.prometheus import AlertTemplateExpander

    queries: list[str] = []

    def query(expr: str) -> list[Any]:
        queries.append(expr)
        return [({"__name__": "x"}, 2.0)]

    expander = AlertTemplateExpander({"region": "eu"}, "http://t", query)
    labels = {"zone": "lobby"}
    static = "{{ $labels.zone }} in {{ $externalLabels.region }}"
    dynamic = '{{ $value }} / {{ query "x" | first | value }}'
    assert expander.expand(static, labels, 1.0) == "lobby in eu"
    assert expander.expand(static, labels, 2.0) == "lobby in eu"
    assert expander.expand(static, {"zone": "bar"}, 2.0) == "bar in eu"
    assert expander.expand(dynamic, labels, 1.0) == "1 / 2"
    assert expander.expand(dynamic, labels, 3.5) == "3.5 / 2"
    assert queries == ["x", "x"]
    assert expander.expand(static, labels, 9.0, labels_key=42) == "lobby in eu"
    assert expander.expand("{{ $labels.zone | nothere }}", labels, errors="inline").startswith(
        "<error expanding template: "
    )
    with pytest.raises(TemplateParseError):
        expander.expand("{{ $labels.zone | nothere }}", labels)
