# ruff: noqa: E501  (a table of templates reads best one case per line)
"""Parse and execution errors: Go's messages, with template name, line and column."""

from __future__ import annotations

from typing import Any

import pytest

from tocsin.errors import TocsinError
from tocsin.templating import TemplateError, TemplateExecError, TemplateParseError, TemplateSet

PARSE_ERRORS: list[tuple[str, str, int, int]] = [
    # text, message, line, column (0-based byte offset in the line, as Go counts)
    ("{{", "unclosed action", 1, 2),
    ("ok\n{{ .a", "unclosed action", 2, 5),
    ("{{ if .x }}a", "unexpected EOF", 1, 12),
    ("{{ end }}", "unexpected {{end}}", 1, 3),
    ("{{ else }}", "unexpected {{else}}", 1, 3),
    ("{{ nofunc 1 }}", 'function "nofunc" not defined', 1, 3),
    ("{{ $x }}", 'undefined variable "$x"', 1, 3),
    ("{{ $x = 1 }}", 'undefined variable "$x"', 1, 3),
    ("a\n\n  {{ .x | 3 }}", "non executable command in pipeline stage 2", 3, 12),
    ("{{ break }}", "{{break}} outside {{range}}", 1, 3),
    ("{{ if true }}{{ continue }}{{ end }}", "{{continue}} outside {{range}}", 1, 16),
    ('{{ "abc }}', "unterminated quoted string", 1, 3),
    ("{{ `abc }}", "unterminated raw quoted string", 1, 3),
    ("{{ 'ab' }}", "malformed character constant: 'ab'", 1, 3),
    ("{{ 3x }}", 'bad number syntax: "3x"', 1, 3),
    ("{{ }}", "missing value for command", 1, 3),
    ("{{/* x }}", "unclosed comment", 1, 0),
    ("{{/* x */ }}", "comment ends before closing delimiter", 1, 0),
    ("{{ (1 }}", "unclosed left paren", 1, 6),
    ("{{ ) }}", "unexpected right paren", 1, 3),
    ("{{\u00a0}}", "unrecognized character in action: U+00A0", 1, 2),
    ("{{ .a\u00a0}}", "bad character U+00A0 '\u00a0'", 1, 5),
    ("{{ template .x }}", 'unexpected ".x" in template clause', 1, 12),
    ('{{ define "a" }}x', "unexpected EOF", 1, 17),
    ("{{ if }}{{ end }}", "missing value for if", 1, 6),
    ("{{ range $i, 3 := . }}{{ end }}", 'range can only initialize variables, found "3"', 1, 13),
    ("{{ $a, $b := 1 }}", "too many declarations in command", 1, 5),
    ("{{ 1.a }}", 'bad number syntax: "1.a"', 1, 3),
    ("{{ .a }} {{ /x }}", 'unexpected "/" in command', 1, 12),
]


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    PARSE_ERRORS,
    ids=[c[1] + "|" + c[0] for c in PARSE_ERRORS],
)
def test_parse_errors(text: str, message: str, line: int, column: int) -> None:
    ts = TemplateSet()
    with pytest.raises(TemplateParseError) as info:
        ts.parse("alert.tmpl", text)
    err = info.value
    assert (err.message, err.line, err.column, err.template) == (
        message,
        line,
        column,
        "alert.tmpl",
    )
    assert str(err) == f"template: alert.tmpl:{line}:{column}: {message}"
    assert isinstance(err, TemplateError)
    assert isinstance(err, TocsinError)


def _boom() -> None:
    raise RuntimeError("boom")


EXEC_ERRORS: list[tuple[str, Any, str]] = [
    (
        "{{ index . 5 }}",
        [1, 2, 3],
        'template: t:1:3: executing "t" at <index . 5>: error calling index: index out of range: 5',
    ),
    (
        "x\n  {{ .a.b }}",
        {"a": 1},
        'template: t:2:5: executing "t" at <.a.b>: can\'t evaluate field b in type int',
    ),
    ("{{ printf 3 }}", None, 'template: t:1:10: executing "t" at <3>: expected string; found 3'),
    (
        "{{ printf .x }}",
        {"x": 2},
        'template: t:1:10: executing "t" at <.x>: wrong type for value; expected string; got int',
    ),
    (
        "{{ len 1 2 }}",
        None,
        'template: t:1:3: executing "t" at <len>: wrong number of args for len: want 1 got 2',
    ),
    (
        "{{ and }}",
        None,
        'template: t:1:3: executing "t" at <and>: wrong number of args for and: want at least 1 got 0',
    ),
    ("{{ nil }}", None, 'template: t:1:3: executing "t" at <nil>: nil is not a command'),
    (
        "{{ 1 2 }}",
        None,
        'template: t:1:3: executing "t" at <1>: can\'t give argument to non-function 1',
    ),
    (
        '{{ template "missing" }}',
        None,
        'template: t:1:3: executing "t" at <{{template "missing"}}>: template "missing" not defined',
    ),
    (
        "{{ eq 1 1.5 }}",
        None,
        'template: t:1:3: executing "t" at <eq 1 1.5>: error calling eq: incompatible types for comparison',
    ),
    (
        "{{ lt true false }}",
        None,
        'template: t:1:3: executing "t" at <lt true false>: error calling lt: invalid type for comparison',
    ),
    (
        '{{ range "abc" }}{{ end }}',
        None,
        'template: t:1:9: executing "t" at <"abc">: range can\'t iterate over abc',
    ),
    (
        '{{ define "inner" }}{{ index . 9 }}{{ end }}{{ template "inner" . }}',
        [1],
        'template: t:1:23: executing "inner" at <index . 9>: error calling index: index out of range: 9',
    ),
    (
        "{{ .X 1 }}",
        {"X": 1},
        'template: t:1:3: executing "t" at <.X>: X is not a method but has arguments',
    ),
    (
        "{{ call .f }}",
        {"f": _boom},
        'template: t:1:3: executing "t" at <call .f>: error calling call: boom',
    ),
    (
        "{{ index .list 1 2 3 4 5 6 7 }}",
        {"list": [1]},
        'template: t:1:3: executing "t" at <index .list 1 2 3 4 5 6 7>: error calling index: index out of range: 1',
    ),
    (
        "{{ slice . 2 1 }}",
        [1, 2, 3],
        'template: t:1:3: executing "t" at <slice . 2 1>: error calling slice: invalid slice index: 2 > 1',
    ),
    (
        "{{ len 3 }}",
        None,
        'template: t:1:3: executing "t" at <len 3>: error calling len: len of type int',
    ),
]


@pytest.mark.parametrize(("text", "data", "expected"), EXEC_ERRORS, ids=[c[0] for c in EXEC_ERRORS])
def test_exec_errors(text: str, data: Any, expected: str) -> None:
    ts = TemplateSet()
    ts.parse("t", text)
    with pytest.raises(TemplateExecError) as info:
        ts.execute("t", data)
    assert str(info.value) == expected
    assert isinstance(info.value, TocsinError)


def test_exec_error_location_attributes() -> None:
    ts = TemplateSet()
    ts.parse("t", "line one\nline two {{ index . 3 }}")
    with pytest.raises(TemplateExecError) as info:
        ts.execute("t", [])
    err = info.value
    assert (err.template, err.line, err.column) == ("t", 2, 12)
    assert err.message == "error calling index: index out of range: 3"


def test_runaway_recursion_is_an_error() -> None:
    ts = TemplateSet()
    ts.parse("t", '{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}')
    with pytest.raises(TemplateExecError, match=r"exceeded maximum template depth \(100\)"):
        ts.execute("t", 1)


def test_unknown_template_name() -> None:
    with pytest.raises(TemplateExecError, match='no template "nope"'):
        TemplateSet().execute("nope", None)


def test_missing_file_is_a_template_error(tmp_path: Any) -> None:
    with pytest.raises(TemplateError, match="cannot read template file"):
        TemplateSet().add_file(tmp_path / "absent.tmpl")
