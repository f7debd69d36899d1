from __future__ import annotations

import pytest

from tocsin.alerting.matchers import (
    MatcherError,
    format_matcher,
    format_matchers,
    go_quote,
    matcher_from_api,
    matcher_to_api,
    matches_all,
    new_matcher,
    parse_matcher,
    parse_matchers,
    sort_matchers,
)
from tocsin.tsdb.types import LabelMatcher, MatchOp

EQ, NE, RE, NRE = MatchOp.EQ, MatchOp.NE, MatchOp.RE, MatchOp.NRE

PARSE_CASES = [
    # input, expected (name, op, value) triples
    ('{a="b", c=~"d|e"}', [("a", EQ, "b"), ("c", RE, "d|e")]),
    ('severity!="info"', [("severity", NE, "info")]),
    ('foo=~"bar|baz"', [("foo", RE, "bar|baz")]),
    ("foo=bar,dings!=bums", [("foo", EQ, "bar"), ("dings", NE, "bums")]),
    ("{foo = bar , dings !~ bums, }", [("foo", EQ, "bar"), ("dings", NRE, "bums")]),
    ('statuscode=~"5.."', [("statuscode", RE, "5..")]),
    ('msg="a, b"', [("msg", EQ, "a, b")]),
    (r'quote="She said: \"Hi\""', [("quote", EQ, 'She said: "Hi"')]),
    (r'nl="a\nb"', [("nl", EQ, "a\nb")]),
    ('"utf8 name"="x"', [("utf8 name", EQ, "x")]),
    ("zone=🎵", [("zone", EQ, "🎵")]),
    ("a=", [("a", EQ, "")]),  # only the classic parser accepts this
    (r'x=~"\d+"', [("x", RE, r"\d+")]),  # Go escapes reject \d; classic keeps it
    ("foo=bar baz", [("foo", EQ, "bar baz")]),  # classic: value runs to the end
    ("{}", []),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_matchers(text: str, expected: list[tuple[str, MatchOp, str]]) -> None:
    got = parse_matchers(text)
    assert [(m.name, m.op, m.value) for m in got] == expected


@pytest.mark.parametrize(
    "text",
    ["a=~(", '{a="b" c="d"}', "=b", 'a="unterminated', 'a="x"y"'],
)
def test_parse_matchers_rejects(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(text)


def test_unbalanced_braces_fall_back_to_the_classic_parser() -> None:
    # Alertmanager's fallback mode accepts these through its classic parser.
    assert parse_matchers('{a="b"') == [LabelMatcher("a", EQ, "b")]
    assert parse_matchers('a="b"}') == [LabelMatcher("a", EQ, "b")]


def test_parse_matcher_wants_exactly_one() -> None:
    assert parse_matcher("a=b") == LabelMatcher("a", EQ, "b")
    with pytest.raises(MatcherError, match="expected 1 matcher"):
        parse_matcher("a=b,c=d")
    with pytest.raises(MatcherError, match="brace"):
        parse_matcher("{a=b}")


@pytest.mark.parametrize(
    ("matcher", "value", "hit"),
    [
        (new_matcher("s", RE, "foo|bar"), "foo", True),
        (new_matcher("s", RE, "foo|bar"), "foobar", False),  # anchored
        (new_matcher("s", RE, "foo|bar"), "xfoo", False),
        (new_matcher("s", NRE, ".+"), "", True),
        (new_matcher("s", RE, "a.b"), "a\nb", False),  # Go: '.' is not a newline
        (new_matcher("s", RE, "(?s)a.b"), "a\nb", True),
        (new_matcher("s", RE, "(?i)crit|warn"), "WARN", True),  # flag spans '|'
        (new_matcher("s", RE, "x(?i)crit|warn"), "WARN", True),
        (new_matcher("s", RE, "x(?i)crit|warn"), "XCRIT", False),
        (new_matcher("s", RE, "x(?i)crit|warn"), "xCRIT", True),
        (new_matcher("s", RE, "(a(?i)b)c"), "aBc", True),
        (new_matcher("s", RE, "(a(?i)b)c"), "aBC", False),  # flag ends with its group
        (new_matcher("s", RE, r"ab\z"), "ab", True),
        (LabelMatcher("s", NE, "x"), "", True),
        (LabelMatcher("s", EQ, ""), "", True),
    ],
)
def test_regexes_are_anchored(matcher: LabelMatcher, value: str, hit: bool) -> None:
    assert matcher.matches(value) is hit


def test_missing_label_is_empty_value() -> None:
    assert matches_all([LabelMatcher("team", EQ, "")], {"other": "x"})
    assert not matches_all([LabelMatcher("team", RE, ".+")], {"other": "x"})


@pytest.mark.parametrize(
    ("matcher", "text"),
    [
        (LabelMatcher("a", EQ, "b"), 'a="b"'),
        (LabelMatcher("a", RE, 'x"y\\.z\n'), 'a=~"x\\"y\\\\.z\\n"'),
        (LabelMatcher("with space", NE, "v"), '"with space"!="v"'),
    ],
)
def test_format_matcher_like_alertmanager(matcher: LabelMatcher, text: str) -> None:
    assert format_matcher(matcher) == text
    back = parse_matcher(text)
    assert (back.name, back.op, back.value) == (matcher.name, matcher.op, matcher.value)


def test_sort_and_format_list() -> None:
    ms = sort_matchers(
        [LabelMatcher("b", EQ, "1"), LabelMatcher("a", NE, "2"), LabelMatcher("a", EQ, "2")]
    )
    assert format_matchers(ms) == '{a="2",a!="2",b="1"}'


def test_go_quote() -> None:
    assert go_quote('a"b\\c\td\x01é') == '"a\\"b\\\\c\\td\\x01é"'


# The Go-to-Python translation itself is tested in tests/test_goregex.py; here
# only that matchers refuse and accept through it.
@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"\pL", "escape"),
        ("(?=a)b", "lookaround"),
        (r"(a)\1", "backreference"),
        ("(?U)a+", "ungreedy"),
        ("(", "missing"),
    ],
)
def test_go_only_or_python_only_regex_syntax_is_refused(pattern: str, problem: str) -> None:
    with pytest.raises(MatcherError, match=problem):
        new_matcher("a", RE, pattern)


@pytest.mark.parametrize(
    "pattern",
    [r"[]a]", r"[^]a]", r"\d+\.\d+", "(?i)foo", "(?P<n>x)", "[[:alpha:]]+", "[a-z]"],
)
def test_shared_regex_syntax_is_accepted(pattern: str) -> None:
    assert new_matcher("a", RE, pattern).op is RE


@pytest.mark.parametrize(
    ("api", "op"),
    [
        ({"name": "a", "value": "b", "isRegex": False, "isEqual": True}, EQ),
        ({"name": "a", "value": "b", "isRegex": False, "isEqual": False}, NE),
        ({"name": "a", "value": "b", "isRegex": True, "isEqual": True}, RE),
        ({"name": "a", "value": "b", "isRegex": True, "isEqual": False}, NRE),
        ({"name": "a", "value": "b", "isRegex": False}, EQ),  # isEqual defaults to true
    ],
)
def test_api_matcher_round_trip(api: dict[str, object], op: MatchOp) -> None:
    m = matcher_from_api(api)
    assert (m.name, m.op, m.value) == ("a", op, "b")
    assert matcher_from_api(matcher_to_api(m)) == m


@pytest.mark.parametrize(
    "api",
    [
        {"name": "a"},
        {"value": "b"},
        {"name": 1, "value": "b"},
        {"name": "a", "value": "(", "isRegex": True},
    ],
)
def test_api_matcher_errors(api: dict[str, object]) -> None:
    with pytest.raises(MatcherError):
        matcher_from_api(api)
