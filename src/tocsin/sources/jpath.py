"""JMESPath expressions compiled once into plain Python closures.

A fleet sweep evaluates several expressions per item for 100,000 items, and
jmespath's tree interpreter costs microseconds per call. The common shapes in
a mapping (fields, dotted paths, indexes, comparisons with a literal, and/or/
not) are turned into closures with jmespath's own semantics; anything else
(projections, filters, functions...) falls back to the compiled jmespath
expression, so every valid expression works.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

Getter = Callable[[Any], Any]


class ExpressionError(ValueError):
    """An expression that does not parse; the message names it."""


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _is_false(x: Any) -> bool:
    # JMESPath falsiness differs from Python's: 0 is true, empty things are false.
    return x is None or x is False or x == "" or x == [] or x == {}


def _equals(x: Any, y: Any) -> bool:
    # In JMESPath true != 1 and false != 0, unlike Python.
    if isinstance(x, bool) != isinstance(y, bool) and (_is_number(x) or _is_number(y)):
        return False
    return bool(x == y)


_ORDERING = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


def _path_steps(node: dict[str, Any]) -> list[str | int] | None:
    """A chain of field names and list indexes, or None if it is anything else."""
    kind = node["type"]
    if kind == "field":
        return [node["value"]]
    if kind == "index":
        return [int(node["value"])]
    if kind in ("subexpression", "index_expression"):
        steps: list[str | int] = []
        for child in node["children"]:
            sub = _path_steps(child)
            if sub is None:
                return None
            steps.extend(sub)
        return steps
    return None


def _compile_path(steps: list[str | int]) -> Getter:
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]

        def one(doc: Any) -> Any:
            return doc.get(key) if isinstance(doc, dict) else None

        return one

    if len(steps) == 2 and isinstance(steps[0], str) and isinstance(steps[1], str):
        k1, k2 = steps

        def two(doc: Any) -> Any:
            if not isinstance(doc, dict):
                return None
            doc = doc.get(k1)
            return doc.get(k2) if isinstance(doc, dict) else None

        return two

    def many(doc: Any) -> Any:
        for step in steps:
            if isinstance(step, str):
                if not isinstance(doc, dict):
                    return None
                doc = doc.get(step)
            else:
                if not isinstance(doc, list):
                    return None
                try:
                    doc = doc[step]
                except IndexError:
                    return None
        return doc

    return many


def _compile_node(node: dict[str, Any]) -> Getter | None:
    """A closure for the node, or None if the node is outside the fast subset."""
    kind = node["type"]
    steps = _path_steps(node)
    if steps is not None:
        return _compile_path(steps)
    if kind == "current":
        return lambda doc: doc
    if kind == "literal":
        value = node["value"]
        return lambda doc: value
    maybe = [_compile_node(c) for c in node.get("children", [])]
    children = [c for c in maybe if c is not None]
    if len(children) != len(maybe):
        return None
    if kind == "comparator" and len(children) == 2:
        left, right = children[0], children[1]
        op = node["value"]
        if op == "eq":
            return lambda doc: _equals(left(doc), right(doc))
        if op == "ne":
            return lambda doc: not _equals(left(doc), right(doc))
        cmp = _ORDERING.get(op)
        if cmp is None:
            return None

        def ordered(doc: Any) -> Any:
            a, b = left(doc), right(doc)
            if (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
                return cmp(a, b)
            return None

        return ordered
    if kind == "and_expression" and len(children) == 2:
        first, second = children[0], children[1]

        def and_(doc: Any) -> Any:
            value = first(doc)
            return value if _is_false(value) else second(doc)

        return and_
    if kind == "or_expression" and len(children) == 2:
        first, second = children[0], children[1]

        def or_(doc: Any) -> Any:
            value = first(doc)
            return second(doc) if _is_false(value) else value

        return or_
    if kind == "not_expression" and len(children) == 1:
        inner = children[0]

        def not_(doc: Any) -> Any:
            value = inner(doc)
            if _is_number(value) and value == 0:
                return False  # jmespath: !0 is false
            return not value

        return not_
    return None


def compile_expression(expr: str) -> Getter:
    """Parse `expr` once; return a function of the document it applies to."""
    try:
        parsed = jmespath.compile(expr)
    except JMESPathError as exc:
        raise ExpressionError(f"invalid JMESPath expression {expr!r}: {exc}") from None
    fast = _compile_node(parsed.parsed)
    return fast if fast is not None else parsed.search


def check_expression(expr: str) -> str:
    """Validator helper: return `expr` if it parses, else raise ExpressionError."""
    compile_expression(expr)
    return expr
