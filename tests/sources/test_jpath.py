from __future__ import annotations

from typing import Any

import jmespath
import pytest

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
