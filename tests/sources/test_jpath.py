from __future__ import annotations

from typing import Any

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.sources.jpath import ExpressionError, compile_expression

DOCS: list[Any] = [
    {"status": "online", "venue": {"region": "eu", "n": 3}, "tags": ["a", "b"], "v": 0},
    {"status": "offline", "venue": None, "tags": [], "v": 1, "ok": True},
    {"status": None, "venue": {"region": None}, "v": False, "ok": False, "x-y": 5},
    {"status": "", "venue": "flat", "tags": "notalist", "v": 2.5, "ok": 1},
    {"venue": {"n": 0, "region": "us"}, "v": [], "ok": {}},
    [1, 2, 3],
    "scalar",
    None,
    3,
]

EXPRESSIONS = [
    "status",
    "venue.region",
    "venue.n",
    "tags[0]",
    "tags[-1]",
    "tags[5]",
    "@",
    "status == 'online'",
    "status != 'online'",
    "v == `1`",
    "v == `true`",
    "ok == `1`",
    "ok == `true`",
    "v > `1`",
    "venue.n >= `3`",
    "status < 'p'",
    "status && venue",
    "status || 'none'",
    "!status",
    "!v",
    "!ok",
    "status == 'online' && venue.region == 'eu'",
    "(status == 'online') || ok",
    '"x-y"',
    "`42`",
    # Outside the fast subset: must still agree (falls back to jmespath).
    "tags[*]",
    "length(tags)",
    "venue.*",
    "tags[?@ == 'a']",
]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_compiled_expression_agrees_with_jmespath(expr: str) -> None:
    fn = compile_expression(expr)
    for doc in DOCS:
        try:
            want = jmespath.search(expr, doc)
        except jmespath.exceptions.JMESPathError as exc:
            with pytest.raises(type(exc)):
                fn(doc)
            continue
        got = fn(doc)
        assert got == want, (expr, doc)
        assert type(got) is type(want), (expr, doc)


@pytest.mark.parametrize(
    ("expr", "fast"),
    [
        ("status", True),
        ("a.b.c", True),
        ("a[0].b", True),
        ("a == 'x' && !b", True),
        ("length(a)", False),
        ("a[*].b", False),
    ],
)
def test_simple_expressions_take_the_fast_path(expr: str, fast: bool) -> None:
    fn = compile_expression(expr)
    is_jmespath = getattr(fn, "__self__", None) is not None
    assert is_jmespath is not fast


@pytest.mark.parametrize("expr", ["status ==", "a[", "", "foo(("])
def test_invalid_expression_is_named(expr: str) -> None:
    with pytest.raises(ExpressionError, match="invalid JMESPath"):
        compile_expression(expr)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.5, "", "a", "on"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "status"]), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(doc=json_values, expr=st.sampled_from(EXPRESSIONS[:25]))
def test_fast_path_agrees_with_jmespath_on_any_document(doc: Any, expr: str) -> None:
    assert_agrees(expr, doc)


@settings(max_examples=200, deadline=None)
@given(
    doc=json_values,
    left=st.sampled_from(["a", "b.a", "status", "a[0]", "@"]),
    op=st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "&&", "||"]),
    right=st.sampled_from(["b", "`1`", "`0`", "'on'", "`true`", "`null`", "!a"]),
)
def test_fast_path_agrees_on_generated_expressions(
    doc: Any, left: str, op: str, right: str
) -> None:
    assert_agrees(f"{left} {op} {right}", doc)


def assert_agrees(expr: str, doc: Any) -> None:
    got = compile_expression(expr)(doc)
    try:
        want = jmespath.search(expr, doc)
    except TypeError:
        # jmespath crashes ordering a number against a string; we give null.
        assert got is None
        return
    assert got == want, expr
    assert type(got) is type(want), expr
