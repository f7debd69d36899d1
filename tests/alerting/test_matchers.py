from __future__ import annotations

import pytest

from tocsin.alerting.matchers import (
    MatcherError,
    format_matcher,
    format_matchers,
    go_quote,
    matches_all,
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
        (LabelMatcher("s", RE, "foo|bar"), "foo", True),
        (LabelMatcher("s", RE, "foo|bar"), "foobar", False),  # anchored
        (LabelMatcher("s", RE, "foo|bar"), "xfoo", False),
        (LabelMatcher("s", NRE, ".+"), "", True),
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
    assert parse_matcher(text) == matcher


def test_sort_and_format_list() -> None:
    ms = sort_matchers(
        [LabelMatcher("b", EQ, "1"), LabelMatcher("a", NE, "2"), LabelMatcher("a", EQ, "2")]
    )
    assert format_matchers(ms) == '{a="2",a!="2",b="1"}'


def test_go_quote() -> None:
    assert go_quote('a"b\\c\td\x01é') == '"a\\"b\\\\c\\td\\x01é"'
