# ruff: noqa: E501  (a table of templates reads best one case per line)
"""Go text/template semantics, table-driven: template, data -> expected output.

Expected outputs follow Go's documented behaviour (text/template package
docs, fmt package docs) and what Go 1.22+ prints for the same input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tocsin.templating import TemplateSet


@dataclass
class Point:
    X: int
    Y: int

    def Sum(self) -> int:
        return self.X + self.Y

    def Scale(self, k: int) -> int:
        return (self.X + self.Y) * k


CASES: list[tuple[str, str, Any, str]] = [
    # -- text and actions
    ("plain text", "hello", None, "hello"),
    ("int constant", "{{ 1 }}", None, "1"),
    ("float constant", "{{ 1.5 }}", None, "1.5"),
    ("float constant integral", "{{ 1.0 }}", None, "1"),
    ("exponent constant is float", "{{ 1e3 }}", None, "1000"),
    ("hex constant", "{{ 0x1F }}", None, "31"),
    ("octal constant", "{{ 010 }}", None, "8"),
    ("0o octal constant", "{{ 0o17 }}", None, "15"),
    ("binary constant", "{{ 0b101 }}", None, "5"),
    ("underscore constant", "{{ 1_000 }}", None, "1000"),
    ("negative constant", "{{ -3 }}", None, "-3"),
    ("char constant", "{{ 'a' }}", None, "97"),
    ("escaped char constant", r"{{ '\n' }}", None, "10"),
    ("string escapes", r'{{ "a\tb\x41\u00e9\101" }}', None, "a\tbAéA"),
    ("raw string", "{{ `a\\n{{b}}` }}", None, "a\\n{{b}}"),
    ("bool constants", "{{ true }} {{ false }}", None, "true false"),
    ("dot", "{{ . }}", "hi", "hi"),
    ("root variable", "{{ $ }}", 7, "7"),
    ("nil data prints no value", "{{ . }}", None, "<no value>"),
    # -- whitespace trimming
    ("trim both sides", "a  {{- 1 -}}  b", None, "a1b"),
    ("trim newlines", "a\n\t {{- 1 }}\n", None, "a1\n"),
    ("trim right only", "{{ 1 -}} \n x", None, "1x"),
    ("minus without space is a number", "{{-3}}", None, "-3"),
    ("comment", "a{{/* a comment */}}b", None, "ab"),
    ("trimmed comment", "a  {{- /* c */ -}}  b", None, "ab"),
    ("multi-line comment", "{{/* one\ntwo */}}x", None, "x"),
    ("newline inside action", '{{ printf\n  "%d"\n  3 }}', None, "3"),
    # -- fields, maps, methods
    ("map field", "{{ .a.b }}", {"a": {"b": 3}}, "3"),
    ("missing map key", "{{ .missing }}", {"a": 1}, "<no value>"),
    ("field of missing key", "{{ .missing.deeper }}", {}, "<no value>"),
    ("struct field", "{{ .X }},{{ .Y }}", Point(1, 2), "1,2"),
    ("method", "{{ .Sum }}", Point(1, 2), "3"),
    ("method with argument", "{{ .Scale 10 }}", Point(1, 2), "30"),
    ("method with piped argument", "{{ 10 | .Scale }}", Point(1, 2), "30"),
    ("variable field", "{{ $x := .a }}{{ $x.b }}", {"a": {"b": "v"}}, "v"),
    ("chain on parenthesized", '{{ (index . "a").b }}', {"a": {"b": 4}}, "4"),
    ("map prints sorted", "{{ . }}", {"b": 2, "a": 1}, "map[a:1 b:2]"),
    ("slice prints", "{{ . }}", [1, "x", 2.5], "[1 x 2.5]"),
    ("nested print", "{{ . }}", {"k": [1, 2]}, "map[k:[1 2]]"),
    ("large float prints with exponent", "{{ . }}", 1234567.0, "1.234567e+06"),
    ("small float prints with exponent", "{{ . }}", 0.00001, "1e-05"),
    ("float under a million", "{{ . }}", 999999.0, "999999"),
    ("bool prints", "{{ . }}", True, "true"),
    # -- pipelines and variables
    ("pipeline final argument", '{{ "a" | printf "%s-%s" "b" }}', None, "b-a"),
    ("parenthesized pipeline", '{{ (len .) | printf "%03d" }}', [1, 2], "002"),
    ("declare and use", "{{ $x := 5 }}{{ $x }}", None, "5"),
    ("assign", "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", None, "2"),
    ("declaration prints nothing", "{{ $x := 5 }}", None, ""),
    (
        "assign inside range persists",
        "{{ $x := 0 }}{{ range . }}{{ $x = . }}{{ end }}{{ $x }}",
        [1, 2, 3],
        "3",
    ),
    (
        "shadowing in if",
        "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
        None,
        "21",
    ),
    (
        "root inside range",
        "{{ range .items }}{{ $.name }}{{ . }} {{ end }}",
        {"name": "n", "items": [1, 2]},
        "n1 n2 ",
    ),
    # -- if / else if / else
    ("if true", "{{ if . }}yes{{ end }}", 1, "yes"),
    ("if zero", "{{ if . }}yes{{ else }}no{{ end }}", 0, "no"),
    ("if empty string", "{{ if . }}yes{{ else }}no{{ end }}", "", "no"),
    ("if empty list", "{{ if . }}yes{{ else }}no{{ end }}", [], "no"),
    ("if empty map", "{{ if . }}yes{{ else }}no{{ end }}", {}, "no"),
    ("if 0.0", "{{ if . }}yes{{ else }}no{{ end }}", 0.0, "no"),
    ("if missing key", "{{ if .x }}yes{{ else }}no{{ end }}", {}, "no"),
    ("if struct", "{{ if . }}yes{{ end }}", Point(0, 0), "yes"),
    (
        "else if chain first",
        "{{ if eq . 1 }}one{{ else if eq . 2 }}two{{ else }}many{{ end }}",
        1,
        "one",
    ),
    (
        "else if chain second",
        "{{ if eq . 1 }}one{{ else if eq . 2 }}two{{ else }}many{{ end }}",
        2,
        "two",
    ),
    (
        "else if chain else",
        "{{ if eq . 1 }}one{{ else if eq . 2 }}two{{ else }}many{{ end }}",
        9,
        "many",
    ),
    ("if declares variable", "{{ if $x := . }}{{ $x }}{{ end }}", "v", "v"),
    # -- with
    ("with sets dot", "{{ with .a }}{{ . }}{{ end }}", {"a": "A"}, "A"),
    ("with else", "{{ with .a }}{{ . }}{{ else }}none{{ end }}", {}, "none"),
    (
        "else with",
        "{{ with .a }}a{{ else with .b }}b{{ . }}{{ else }}none{{ end }}",
        {"b": 5},
        "b5",
    ),
    (
        "with keeps dot in else",
        "{{ with .a }}x{{ else }}{{ .b }}{{ end }}",
        {"a": 0, "b": "B"},
        "B",
    ),
    # -- range
    ("range list", "{{ range . }}[{{ . }}]{{ end }}", [1, 2], "[1][2]"),
    (
        "range index and element",
        "{{ range $i, $e := . }}{{ $i }}={{ $e }} {{ end }}",
        ["a", "b"],
        "0=a 1=b ",
    ),
    ("range one variable is element", "{{ range $e := . }}{{ $e }}{{ end }}", ["a", "b"], "ab"),
    (
        "range map sorted keys",
        "{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}",
        {"b": 2, "a": 1, "c": 3},
        "a=1;b=2;c=3;",
    ),
    ("range map dot is value", "{{ range . }}{{ . }}{{ end }}", {"z": 1, "a": 2}, "21"),
    (
        "range int keys sorted numerically",
        "{{ range $k, $v := . }}{{ $k }}{{ end }}",
        {10: "a", 9: "b"},
        "910",
    ),
    ("range else", "{{ range . }}x{{ else }}empty{{ end }}", [], "empty"),
    ("range nil", "{{ range .x }}x{{ else }}empty{{ end }}", {}, "empty"),
    ("range integer", "{{ range 3 }}{{ . }}{{ end }}", None, "012"),
    (
        "range break",
        "{{ range . }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}",
        [1, 2, 3, 4],
        "12",
    ),
    (
        "range continue",
        "{{ range . }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ . }}{{ end }}",
        [1, 2, 3],
        "13",
    ),
    (
        "nested range",
        "{{ range . }}{{ range . }}{{ . }}{{ end }};{{ end }}",
        [[1, 2], [3]],
        "12;3;",
    ),
    (
        "range variable scope per iteration",
        "{{ range . }}{{ $y := . }}{{ $y }}{{ end }}",
        [1, 2],
        "12",
    ),
    # -- define / template / block
    ("define and template", '{{ define "t" }}[{{ . }}]{{ end }}{{ template "t" 5 }}', None, "[5]"),
    (
        "template without data",
        '{{ define "t" }}{{ . }}{{ end }}{{ template "t" }}',
        1,
        "<no value>",
    ),
    (
        "template gets fresh variables",
        '{{ define "t" }}{{ $ }}{{ end }}{{ $x := 1 }}{{ template "t" "d" }}',
        None,
        "d",
    ),
    ("block", '{{ block "b" . }}B{{ . }}{{ end }}', 3, "B3"),
    (
        "recursive template",
        '{{ define "r" }}{{ if . }}{{ index . 0 }}{{ template "r" (slice . 1) }}{{ end }}{{ end }}{{ template "r" . }}',
        [1, 2, 3],
        "123",
    ),
    # -- builtins
    ("and returns first falsy", "{{ and 1 0 2 }}", None, "0"),
    ("and returns last", "{{ and 1 2 }}", None, "2"),
    ("or returns first truthy", '{{ or 0 "" "x" }}', None, "x"),
    ("or returns last", '{{ or 0 "" }}', None, ""),
    ("and short-circuits", "{{ and false (index . 9) }}", [1], "false"),
    ("or short-circuits", "{{ or true (index . 9) }}", [1], "true"),
    ("not", "{{ not 0 }} {{ not 1 }}", None, "true false"),
    ("len string is bytes", '{{ len "héllo" }}', None, "6"),
    ("len list and map", "{{ len .l }} {{ len .m }}", {"l": [1, 2], "m": {"a": 1}}, "2 1"),
    ("index list", "{{ index . 1 }}", [10, 20], "20"),
    ("index nested", "{{ index . 0 1 }}", [[1, 2]], "2"),
    ("index map", '{{ index . "k" }}', {"k": "v"}, "v"),
    ("index map missing", '{{ index . "x" }}', {"k": "v"}, "<no value>"),
    ("index string gives byte", '{{ index "abc" 1 }}', None, "98"),
    ("slice list", "{{ slice . 1 3 }}", [1, 2, 3, 4], "[2 3]"),
    ("slice open end", "{{ slice . 2 }}", [1, 2, 3], "[3]"),
    ("slice string", '{{ slice "hello" 1 3 }}', None, "el"),
    ("print adds spaces between non-strings", '{{ print 1 2 "a" 3 "b" "c" }}', None, "1 2a3bc"),
    ("println", '{{ println 1 "a" }}', None, "1 a\n"),
    ("html", '{{ html "<a href=\'x\'>&\\"" }}', None, "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"),
    ("js", '{{ js "a\'b\\"c<d>&=\\\\" }}', None, "a\\'b\\\"c\\u003Cd\\u003E\\u0026\\u003D\\\\"),
    ("urlquery", '{{ urlquery "a b&c=d/é" }}', None, "a+b%26c%3Dd%2F%C3%A9"),
    ("html of several args", "{{ html 1 2 }}", None, "1 2"),
    ("call", "{{ call .f 2 3 }}", {"f": lambda a, b: a * b}, "6"),
    # -- comparisons
    ("eq ints", "{{ eq 1 1 }} {{ eq 1 2 }}", None, "true false"),
    ("eq multiple", "{{ eq . 1 2 3 }}", 3, "true"),
    ("eq multiple none", "{{ eq . 1 2 }}", 3, "false"),
    ("eq strings", '{{ eq "a" "a" }}', None, "true"),
    ("ne", "{{ ne 1 2 }}", None, "true"),
    (
        "lt le gt ge ints",
        "{{ lt 1 2 }}{{ le 2 2 }}{{ gt 3 2 }}{{ ge 1 2 }}",
        None,
        "truetruetruefalse",
    ),
    ("lt strings", '{{ lt "a" "b" }}', None, "true"),
    ("lt floats", "{{ lt 1.5 2.5 }}", None, "true"),
    ("eq with missing value", "{{ eq .x 1 }}", {}, "false"),
    # -- printf
    ("printf %s %d", '{{ printf "%s=%d" "a" 5 }}', None, "a=5"),
    ("printf %v", '{{ printf "%v %v %v" 1 "s" 2.5 }}', None, "1 s 2.5"),
    ("printf %.2f", '{{ printf "%.2f" 3.14159 }}', None, "3.14"),
    ("printf %0.2f", '{{ printf "%0.2f" 2.0 }}', None, "2.00"),
    ("printf %f default precision", '{{ printf "%f" 1.5 }}', None, "1.500000"),
    ("printf %e", '{{ printf "%e" 1234.5678 }}', None, "1.234568e+03"),
    ("printf %g", '{{ printf "%g" 1234567.0 }}', None, "1.234567e+06"),
    ("printf %.3g", '{{ printf "%.3g" 1234.5678 }}', None, "1.23e+03"),
    ("printf %q", '{{ printf "%q" "a\\"b\\n" }}', None, '"a\\"b\\n"'),
    ("printf %x %X", '{{ printf "%x %X %x" 255 255 "hi" }}', None, "ff FF 6869"),
    ("printf %o %b", '{{ printf "%o %b" 8 5 }}', None, "10 101"),
    ("printf %#x %#o", '{{ printf "%#x %#o" 255 8 }}', None, "0xff 010"),
    ("printf %c %U", '{{ printf "%c %U" 65 65 }}', None, "A U+0041"),
    ("printf %t", '{{ printf "%t" true }}', None, "true"),
    ("printf width", '{{ printf "[%5d][%-5d][%05d]" 42 42 42 }}', None, "[   42][42   ][00042]"),
    (
        "printf string width",
        '{{ printf "[%6s][%-6s][%.2s]" "abc" "abc" "abc" }}',
        None,
        "[   abc][abc   ][ab]",
    ),
    ("printf plus", '{{ printf "%+d %+.1f" 5 2.0 }}', None, "+5 +2.0"),
    ("printf %%", '{{ printf "100%%" }}', None, "100%"),
    ("printf %T", '{{ printf "%T %T %T %T" 1 1.5 "s" true }}', None, "int float64 string bool"),
    ("printf %v list", '{{ printf "%v" . }}', [1, 2], "[1 2]"),
    ("printf %d list", '{{ printf "%d" . }}', [1, 2], "[1 2]"),
    ("printf %v map", '{{ printf "%v" . }}', {"b": 1, "a": 2}, "map[a:2 b:1]"),
    ("printf wrong verb", '{{ printf "%d" "x" }}', None, "%!d(string=x)"),
    ("printf missing arg", '{{ printf "%d %d" 1 }}', None, "1 %!d(MISSING)"),
    ("printf extra arg", '{{ printf "%d" 1 2 }}', None, "1%!(EXTRA int=2)"),
    ("printf star width", '{{ printf "[%*d]" 4 7 }}', None, "[   7]"),
    (
        "printf inf and nan",
        '{{ printf "%f %v" .i .n }}',
        {"i": float("inf"), "n": float("nan")},
        "+Inf NaN",
    ),
    ("printf %v float", '{{ printf "%v" 100000000.0 }}', None, "1e+08"),
    ("printf %6.2f", '{{ printf "%6.2f|%-8.3f|" 3.14159 2.5 }}', None, "  3.14|2.500   |"),
]


@pytest.mark.parametrize(
    ("template", "data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_go_semantics(template: str, data: Any, expected: str) -> None:
    assert TemplateSet().execute_text(template, data) == expected


def test_missingkey_zero_uses_map_zero_value() -> None:
    class Labels(dict[str, str]):
        go_zero = ""

    ts = TemplateSet(missingkey="zero")
    assert ts.execute_text("[{{ .x }}]", Labels(a="1")) == "[]"
    assert ts.execute_text("[{{ .x }}]", {"a": 1}) == "[<no value>]"


def test_missingkey_error() -> None:
    from tocsin.templating import TemplateExecError

    with pytest.raises(TemplateExecError, match='map has no entry for key "x"'):
        TemplateSet(missingkey="error").execute_text("{{ .x }}", {"a": 1})


def test_set_defines_are_shared_and_later_definitions_win() -> None:
    ts = TemplateSet()
    ts.parse("lib", '{{ define "greet" }}hello {{ . }}{{ end }}')
    ts.parse("main", '{{ template "greet" "bob" }}!')
    assert ts.execute("main") == "hello bob!"
    ts.parse("override", '{{ define "greet" }}hi {{ . }}{{ end }}')
    assert ts.execute("main") == "hi bob!"
    # A blank body does not replace a real one (Go's rule for files of definitions).
    ts.parse("blank", '{{ define "greet" }}  {{ end }}')
    assert ts.execute("main") == "hi bob!"
    assert {"lib", "main", "greet", "override", "blank"} <= set(ts.names())


def test_execute_text_definitions_stay_local() -> None:
    ts = TemplateSet()
    ts.parse("lib", '{{ define "x" }}lib{{ end }}')
    assert ts.execute_text('{{ define "x" }}local{{ end }}{{ template "x" }}') == "local"
    assert ts.execute_text('{{ template "x" }}') == "lib"


def test_funcs_injectable_and_clone_independent() -> None:
    ts = TemplateSet({"double": lambda x: x * 2})
    ts.parse("t", "{{ double 21 }}")
    clone = ts.clone()
    clone.add_funcs({"double": lambda x: x * 3})
    clone.parse("u", "{{ double 1 }}")
    assert ts.execute("t") == "42"
    assert clone.execute("u") == "3"
    assert ts.lookup("u") is None
    assert clone.lookup("t") is not None


def test_add_file_uses_base_name(tmp_path: Any) -> None:
    path = tmp_path / "notify.tmpl"
    path.write_text('{{ define "a" }}A{{ . }}{{ end }}top')
    ts = TemplateSet()
    tpl = ts.add_file(path)
    assert tpl.name == "notify.tmpl"
    assert tpl.execute() == "top"
    assert ts.execute("a", 1) == "A1"


def test_html_mode_escapes_values_not_text() -> None:
    from tocsin.templating import SafeHTML

    ts = TemplateSet({"safe": SafeHTML})
    out = ts.execute_text("<b>{{ . }}</b>{{ safe . }}", "<i>&", html=True)
    assert out == "<b>&lt;i&gt;&amp;</b><i>&"
