"""Go string literals: quote and unquote agree with each other and with Go."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerting import matchers
from tocsin.alerting.matchers import MatcherError, parse_matchers
from tocsin.gostrings import go_quote, go_quote_plain, go_unquote


@given(st.text())
def test_unquote_undoes_quote(s: str) -> None:
    assert go_unquote(go_quote(s)) == s
    assert go_quote_plain(s) == go_quote(s)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r'"a\tb"', "a\tb"),
        (r'"\x41\101\u00e9\U0001F600"', "AAé\U0001f600"),
        ("`raw \\n`", "raw \\n"),
        (r"'\''", "'"),
    ],
)
def test_unquote_reads_go_literals(literal: str, value: str) -> None:
    assert go_unquote(literal) == value


# What Go's strconv.Unquote rejects.
@pytest.mark.parametrize("literal", [r'"\ud800"', r'"\400"', r'"\q"', r'"\'"', '"a\nb"', '"a'])
def test_unquote_rejects_what_go_rejects(literal: str) -> None:
    with pytest.raises(ValueError, match="invalid syntax"):
        go_unquote(literal)


def test_matchers_read_quoted_values_as_go_does() -> None:
    assert parse_matchers(r'{a="x\ty"}')[0].value == "x\ty"
    with pytest.raises(MatcherError, match="invalid quoted string"):
        matchers.go_unquote(r'"\ud800"')
