# ruff: noqa: E501  (a table of templates reads best one case per line)
"""Alertmanager's template functions, data model and tocsin's default templates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tocsin.alerting.model import Alert
from tocsin.clock import FakeClock
from tocsin.templating import TemplateExecError, TemplateSet
from tocsin.templating.alertmanager import (
    KV,
    Data,
    alertmanager_template_set,
    build_template_data,
    default_templates_text,
    fingerprint,
)

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def _set(clock: FakeClock | None = None) -> TemplateSet:
    return alertmanager_template_set(clock=clock or FakeClock(T0))


FUNCTION_CASES: list[tuple[str, Any, str]] = [
    # expectations from Alertmanager's documentation and template tests
    ("abc", None, "abc"),
    ('{{ "abc" | toUpper }}', None, "ABC"),
    ('{{ "ABC" | toLower }}', None, "abc"),
    ('{{ "abc" | title }}', None, "Abc"),
    ('{{ "aa bb CC" | title }}', None, "Aa Bb Cc"),
    ('{{ "don\'t STOP me-NOW" | title }}', None, "Don't Stop Me-Now"),
    ('{{ " a b c " | trimSpace }}', None, "a b c"),
    ('{{ if match "^a" "abc" }}abc{{ end }}', None, "abc"),
    ('{{ if match "abcd" "abc" }}abc{{ end }}', None, ""),
    ('{{ . | join "," }}', ["a", "b", "c"], "a,b,c"),
    ('{{ "<b>" }}', None, "<b>"),
    ('{{ reReplaceAll "ab" "AB" "abcdabcda" }}', None, "ABcdABcda"),
    ('{{ "search?q=test%20foo" | urlUnescape }}', None, "search?q=test foo"),
    ('{{ "a+b" | urlUnescape }}', None, "a b"),
    ('{{ stringSlice "a" "b" }}', None, "[a b]"),
    ('{{ "test" | toJson }}', None, '"test"'),
    ("{{ 42 | toJson }}", None, "42"),
    ("{{ true | toJson }}", None, "true"),
    ("{{ . | toJson }}", {"key": "value", "number": 123}, '{"key":"value","number":123}'),
    ("{{ . | toJson }}", ["a", "b", "c"], '["a","b","c"]'),
    ('{{ "<&>" | toJson }}', None, '"\\u003c\\u0026\\u003e"'),
    (
        "{{ 1e21 | toJson }} {{ 1e20 | toJson }} {{ 0.5 | toJson }}",
        None,
        "1e+21 100000000000000000000 0.5",
    ),
    ('{{ "test" | base64encode }}', None, "dGVzdA=="),
    ('{{ "flush>>" | base64encode }}', None, "Zmx1c2g-Pg=="),
    ('{{ "dGVzdA==" | base64decode }}', None, "test"),
    ("{{- $test := dict -}}{{ $test }}", None, "map[]"),
    ('{{- $test := dict "a" 1 "b" 2 "c" 3 -}}{{ $test }}', None, "map[a:1 b:2 c:3]"),
    ("{{- $test := list -}}{{ $test }}", None, "[]"),
    ('{{- $test := list "a" "b" "c" -}}{{ $test }}', None, "[a b c]"),
    (
        '{{- $test := list "a" "b" -}}{{ $test = append $test "c" "d" -}}{{ $test }}',
        None,
        "[a b c d]",
    ),
    ("{{ humanizeDuration 3725 }}", None, "1h 2m 5s"),
    ('{{ date "2006-01-02 15:04:05 MST" now }}', None, "2023-11-14 22:13:20 UTC"),
    (
        '{{ (tz "Europe/Stockholm" now).Format "Mon 2 Jan 15:04 MST -07:00" }}',
        None,
        "Tue 14 Nov 23:13 CET +01:00",
    ),
    ('{{ now | tz "America/New_York" | date "3:04PM Z0700" }}', None, "5:13PM -0500"),
    ('{{ (toDate "2006-01-02" "2024-02-29").Unix }}', None, "1709164800"),
    ('{{ toDate "2006-01-02" "not a date" }}', None, "0001-01-01 00:00:00 +0000 UTC"),
    (
        '{{ (mustToDate "2006-01-02T15:04:05Z07:00" "2024-03-01T10:20:30+02:00").UTC }}',
        None,
        "2024-03-01 08:20:30 +0000 UTC",
    ),
]


@pytest.mark.parametrize(
    ("text", "data", "expected"), FUNCTION_CASES, ids=[c[0] for c in FUNCTION_CASES]
)
def test_alertmanager_functions(text: str, data: Any, expected: str) -> None:
    assert _set().execute_text(text, data) == expected


FAILING: list[tuple[str, str]] = [
    ("{{ ", "unclosed action"),
    ('{{ "not-valid-base64!" | base64decode }}', "illegal base64 data"),
    ('{{ dict "a" }}', "dict requires an even number of arguments"),
    ('{{ dict 1 "value" }}', "dict keys must be strings"),
    ('{{ tz "Mars/Olympus" now }}', "unknown time zone Mars/Olympus"),
    ('{{ "%zz" | urlUnescape }}', 'invalid URL escape "%zz"'),
    ('{{ mustToDate "2006-01-02" "2024-13-01" }}', 'parsing time "2024-13-01": month out of range'),
    ('{{ join "," 3 }}', "wrong type for value; expected \\[\\]string; got int"),
]


@pytest.mark.parametrize(("text", "message"), FAILING, ids=[c[0] for c in FAILING])
def test_alertmanager_function_errors(text: str, message: str) -> None:
    from tocsin.templating import TemplateError

    with pytest.raises(TemplateError, match=message):
        _set().execute_text(text, None)


def test_since_uses_the_injected_clock() -> None:
    clock = FakeClock(T0 + 5400.5)
    data = build_template_data("r", None, [_alert("A", "firing", starts=T0)], {}, "")
    assert (
        _set(clock).execute_text("{{ range .Alerts }}{{ since .StartsAt }}{{ end }}", data)
        == "1h30m0.5s"
    )


def _alert(
    zone: str,
    status: str,
    *,
    starts: float = T0,
    ends: float | None = None,
    summary: str | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[Alert, str, str]:
    labels = {"alertname": "ZoneDown", "venue": "stockholm-1", "zone": zone, "severity": "critical"}
    annotations = {"summary": summary or f"Player in {zone} is offline", **(extra or {})}
    return (
        Alert(
            labels=labels,
            annotations=annotations,
            starts_at=starts,
            ends_at=ends,
            generator_url=f"http://tocsin/rules#{zone}",
        ),
        status,
        "",
    )


def _group() -> Data:
    return build_template_data(
        "venue-it",
        None,
        [
            _alert(
                "lobby",
                "firing",
                extra={"description": "No answer for 5m.", "runbook": "https://wiki/zone-down"},
            ),
            _alert("bar", "firing", starts=T0 + 100),
            _alert("office", "resolved", starts=T0 - 3600, ends=T0 - 60),
        ],
        {"alertname": "ZoneDown", "venue": "stockholm-1"},
        "http://tocsin.example:9093",
    )


def test_kv_methods() -> None:
    kv = KV({"zone": "lobby", "alertname": "ZoneDown", "venue": "v1"})
    ts = _set()
    assert ts.execute_text("{{ .Names }}|{{ .Values }}|{{ . }}", kv) == (
        "[alertname venue zone]|[ZoneDown v1 lobby]|alertname=ZoneDown, venue=v1, zone=lobby"
    )
    assert ts.execute_text("{{ range .SortedPairs }}{{ .Name }}:{{ .Value }} {{ end }}", kv) == (
        "alertname:ZoneDown venue:v1 zone:lobby "
    )
    assert (
        ts.execute_text('{{ (.Remove (stringSlice "zone" "venue")).Names }}', kv) == "[alertname]"
    )
    assert ts.execute_text('{{ .SortedPairs.Names | join "+" }}', kv) == "alertname+venue+zone"
    assert ts.execute_text("[{{ .missing }}]", kv) == "[]"


def test_structs_print_like_go() -> None:
    data = build_template_data(
        "r", None, [(Alert(labels={"alertname": "A"}, starts_at=T0), "firing", "fp")], {}, ""
    )
    out = _set().execute_text("{{ index .Alerts 0 }}|{{ index .CommonLabels.SortedPairs 0 }}", data)
    assert (
        out
        == "{firing alertname=A  2023-11-14 22:13:20 +0000 UTC 0001-01-01 00:00:00 +0000 UTC  fp}|{alertname A}"
    )


def test_build_template_data() -> None:
    data = _group()
    assert data.Receiver == "venue-it"
    assert data.Status == "firing"
    assert [a.Labels["zone"] for a in data.Alerts.Firing()] == ["lobby", "bar"]
    assert [a.Labels["zone"] for a in data.Alerts.Resolved()] == ["office"]
    assert dict(data.CommonLabels) == {
        "alertname": "ZoneDown",
        "venue": "stockholm-1",
        "severity": "critical",
    }
    assert "summary" not in data.CommonAnnotations
    first = data.Alerts[0]
    assert first.Fingerprint == fingerprint(first.Labels)
    assert re.fullmatch("[0-9a-f]{16}", first.Fingerprint)
    assert first.EndsAt.IsZero()
    assert first.StartsAt.Unix() == int(T0)


def test_fingerprint_matches_prometheus_label_hash() -> None:
    # Values from the Prometheus common library's signature tests.
    assert int(fingerprint({}), 16) == 14695981039346656037
    assert (
        int(fingerprint({"name": "garland, briggs", "fear": "love is not enough"}), 16)
        == 5799056148416392346
    )


def test_receiver_name_is_regexp_quoted_and_status_resolved() -> None:
    data = build_template_data("team.a+b", None, [_alert("x", "resolved", ends=T0)], {}, "")
    assert data.Receiver == r"team\.a\+b"
    assert data.Status == "resolved"


def test_build_template_data_accepts_notify_alert_objects() -> None:
    from tocsin.notify.types import NotifyAlert

    alert = NotifyAlert(labels={"alertname": "A"}, starts_at=T0, status="firing", fingerprint="abc")
    data = build_template_data("r", "firing", [alert], {}, "")
    assert data.Alerts[0].Fingerprint == "abc"


def test_bad_status_is_rejected() -> None:
    with pytest.raises(ValueError, match="status must be"):
        build_template_data("r", None, [_alert("x", "pending")], {}, "")


def test_alerts_to_json_matches_alertmanager_shape() -> None:
    data = build_template_data(
        "r", None, [(Alert(labels={"alertname": "test"}), "firing", "")], {}, ""
    )
    out = _set().execute_text("{{ .Alerts | toJson }}", data)
    fp = fingerprint({"alertname": "test"})
    assert out == (
        '[{"status":"firing","labels":{"alertname":"test"},"annotations":{},'
        '"startsAt":"0001-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z",'
        f'"generatorURL":"","fingerprint":"{fp}"}}]'
    )


def test_compose_json_with_list_and_append() -> None:
    data = build_template_data(
        "r", None, [_alert("a", "firing"), _alert("b", "resolved", ends=T0)], {}, ""
    )
    text = '{{- $l := list -}}{{ range .Alerts }}{{ $m := dict "status" .Status "zone" .Labels.zone }}{{ $l = append $l $m }}{{ end }}{{ toJson $l }}'
    assert (
        _set().execute_text(text, data)
        == '[{"status":"firing","zone":"a"},{"status":"resolved","zone":"b"}]'
    )


# -- default templates ---------------------------------------------------------

DEFAULT_NAMES = sorted(set(re.findall(r'define "([^"]+)"', default_templates_text())))


def test_default_templates_cover_the_names_alertmanager_configs_use() -> None:
    expected = {
        "__subject",
        "__description",
        "__text_alert_list",
        "__text_alert_list_markdown",
        "__alertmanager",
        "__alertmanagerURL",
        "slack.default.title",
        "slack.default.text",
        "slack.default.fallback",
        "slack.default.username",
        "slack.default.titlelink",
        "slack.default.pretext",
        "slack.default.footer",
        "slack.default.callbackid",
        "slack.default.iconemoji",
        "slack.default.iconurl",
        "slack.default.color",
        "email.default.subject",
        "email.default.html",
        "pagerduty.default.description",
        "pagerduty.default.client",
        "pagerduty.default.clientURL",
        "pagerduty.default.instances",
        "opsgenie.default.message",
        "opsgenie.default.description",
        "opsgenie.default.source",
        "msteams.default.title",
        "msteams.default.text",
        "msteams.default.summary",
        "msteamsv2.default.title",
        "msteamsv2.default.text",
        "telegram.default.message",
        "discord.default.title",
        "discord.default.message",
        "webex.default.message",
        "pushover.default.title",
        "pushover.default.message",
    }
    assert expected <= set(DEFAULT_NAMES)


@pytest.mark.parametrize("name", DEFAULT_NAMES)
def test_every_default_template_renders_firing_and_resolved(name: str) -> None:
    ts = _set()
    firing = _group()
    resolved = build_template_data(
        "venue-it",
        None,
        [_alert("office", "resolved", ends=T0)],
        {"alertname": "ZoneDown"},
        "http://t",
    )
    for data in (firing, resolved):
        dot: Any = data
        if name.startswith("__text_alert_list") or name == "pagerduty.default.instances":
            dot = data.Alerts
        elif name.startswith("__tocsin_alert_"):
            dot = data.Alerts[0]
        elif name in ("__tocsin_pairs", "__tocsin_other_annotations"):
            dot = data.Alerts[0].Annotations
        out = ts.execute(name, dot, html=name.endswith(".html"))
        assert "<no value>" not in out


def test_default_subject_and_lists() -> None:
    ts = _set()
    data = _group()
    assert ts.execute("__subject", data) == "Firing: ZoneDown [venue=stockholm-1] (2 alerts)"
    assert ts.execute("email.default.subject", data) == ts.execute("__subject", data)
    assert ts.execute("slack.default.color", data) == "danger"
    assert (
        ts.execute("slack.default.titlelink", data)
        == "http://tocsin.example:9093/alerts?receiver=venue-it"
    )
    text = ts.execute("opsgenie.default.description", data)
    firing_part, resolved_part = text.split("Resolved (1):")
    assert firing_part.startswith("Firing (2):")
    assert "- Player in lobby is offline" in firing_part
    assert "  No answer for 5m." in firing_part
    assert "  runbook: https://wiki/zone-down" in firing_part
    assert (
        "  labels: alertname=ZoneDown, severity=critical, venue=stockholm-1, zone=lobby"
        in firing_part
    )
    assert "  firing since 2023-11-14 22:13:20 UTC" in firing_part
    assert "  source: http://tocsin/rules#lobby" in firing_part
    assert "- Player in office is offline" in resolved_part
    assert "  resolved at 2023-11-14 22:12:20 UTC" in resolved_part
    slack = ts.execute("slack.default.text", data)
    assert slack.startswith("*Firing (2)*")
    assert "*Resolved (1)*" in slack
    assert "`alertname=ZoneDown, severity=critical, venue=stockholm-1, zone=bar`" in slack


def test_resolved_only_group() -> None:
    ts = _set()
    data = build_template_data(
        "r", None, [_alert("office", "resolved", ends=T0)], {"alertname": "ZoneDown"}, "http://t"
    )
    assert ts.execute("__subject", data) == "Resolved: ZoneDown"
    assert ts.execute("slack.default.color", data) == "good"
    assert "Firing" not in ts.execute("opsgenie.default.description", data)


def test_default_email_html_escapes_alert_content() -> None:
    ts = _set()
    data = build_template_data(
        "venue-it",
        None,
        [_alert("lobby", "firing", summary="<script>alert(1)</script> & co")],
        {},
        "http://t",
    )
    html = ts.execute("email.default.html", data, html=True)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert 'href="http://tocsin/rules#lobby"' in html


def test_user_template_file_overrides_a_default(tmp_path: Path) -> None:
    (tmp_path / "custom.tmpl").write_text(
        '{{ define "slack.default.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}'
    )
    ts = alertmanager_template_set(
        [str(tmp_path / "*.tmpl"), str(tmp_path / "none-*.tmpl")], clock=FakeClock(T0)
    )
    assert ts.execute("slack.default.title", _group()) == "[FIRING] ZoneDown"
    # Templates that call the overridden one see the new definition.
    assert ts.execute("slack.default.fallback", _group()).startswith("[FIRING] ZoneDown | ")


def test_template_error_in_notification_text_is_reported() -> None:
    with pytest.raises(TemplateExecError, match="can't evaluate field Nope"):
        _set().execute_text("{{ .Nope }}", _group())


# -- route labels and the notify adapter -------------------------------------------


def _route_data(route_labels: dict[str, str]) -> Data:
    return build_template_data(
        "dba",
        None,
        [(Alert(labels={"alertname": "DiskFull", "database": "orders"}), "firing", "")],
        {"alertname": "DiskFull", "database": "orders"},
        "",
        route_labels=route_labels,
    )


def test_route_labels_render_recursively() -> None:
    # The pattern of Alertmanager's route_labels.yml example config.
    data = _route_data(
        {
            "reason": "database {{ .GroupLabels.database }}",
            "description": '{{ .GroupLabels.alertname }} firing ({{ routeLabels "reason" }})',
        }
    )
    ts = _set()
    assert (
        ts.execute_text('{{ routeLabels "description" }}', data)
        == "DiskFull firing (database orders)"
    )
    assert ts.execute_text('[{{ routeLabels "unknown" }}]', data) == "[]"
    from tocsin.templating.alertmanager import render_route_labels

    assert render_route_labels(ts, data) == {
        "description": "DiskFull firing (database orders)",
        "reason": "database orders",
    }
    data.mark_route_labels_rendered()
    assert (
        ts.execute_text('{{ routeLabels "reason" }}', data)
        == "database {{ .GroupLabels.database }}"
    )


def test_route_label_cycle_is_an_error() -> None:
    data = _route_data({"a": '{{ routeLabels "b" }}', "b": '{{ routeLabels "a" }}'})
    with pytest.raises(TemplateExecError, match="route label cycle detected: a -> b -> a"):
        _set().execute_text('{{ routeLabels "a" }}', data)


def test_notification_renderer_for_notify() -> None:
    from tocsin.notify.types import Notification, NotifyAlert
    from tocsin.templating.alertmanager import notification_renderer

    n = Notification(
        receiver="venue-it",
        group_key='{}:{alertname="ZoneDown"}',
        alerts=(
            NotifyAlert(
                labels={"alertname": "ZoneDown", "zone": "lobby"}, starts_at=T0, status="firing"
            ),
            NotifyAlert(
                labels={"alertname": "ZoneDown", "zone": "bar"},
                starts_at=T0,
                ends_at=T0 + 60,
                status="resolved",
            ),
        ),
        group_labels={"alertname": "ZoneDown"},
        external_url="http://tocsin",
    )
    render = notification_renderer(_set())
    assert render('{{ template "__subject" . }}', n) == "Firing: ZoneDown"
    assert render("{{ len .Alerts.Resolved }} {{ .CommonLabels }}", n) == "1 alertname=ZoneDown"


HTML_CASES: list[tuple[str, Any, str]] = [
    # Alertmanager's own expectations for its HTML templates
    ('{{ "<b>" }}', None, "&lt;b&gt;"),
    ('{{ "<b>" | safeHtml }}', None, "<b>"),
    (
        '<a href="/search?{{ "q=test%20foo" }}"></a>',
        None,
        '<a href="/search?q%3dtest%2520foo"></a>',
    ),
    (
        '<a href="/search?{{ "q=test%20foo" | safeUrl }}"></a>',
        None,
        '<a href="/search?q=test%20foo"></a>',
    ),
    # html/template's URL filter and normaliser, attribute escaping
    ('<a href="{{ . }}">x</a>', "javascript:alert(1)", '<a href="#ZgotmplZ">x</a>'),
    (
        '<a href="{{ . }}">x</a>',
        'http://h/a b?x=1&y="2"',
        '<a href="http://h/a%20b?x=1&amp;y=%222%22">x</a>',
    ),
    ("<a title='{{ . }}' href=x>", "it's <b>", "<a title='it&#39;s &lt;b&gt;' href=x>"),
    ('<div class="{{ . }}">{{ . }}</div>', 'a"b', '<div class="a&#34;b">a&#34;b</div>'),
    ("<img src={{ . }}>", "http://x/é.png", "<img src=http://x/%c3%a9.png>"),
    (
        '<p>{{ "<i>" | safeHtml }}</p><a href="{{ "<i>" | safeHtml }}">',
        None,
        '<p><i></p><a href="%3ci%3e">',
    ),
]


@pytest.mark.parametrize(("text", "data", "expected"), HTML_CASES, ids=[c[0] for c in HTML_CASES])
def test_html_mode_escaping_by_context(text: str, data: Any, expected: str) -> None:
    assert _set().execute_text(text, data, html=True) == expected
