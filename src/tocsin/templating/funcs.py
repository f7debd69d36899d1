"""Template functions: how a Python callable is described to the executor.

Go type-checks every call: arity, and each argument against the declared
parameter type (``wrong type for value; expected string; got float64``).
A GoFunc carries that declaration. Plain Python callables get their arity
from their signature and accept any argument type.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from tocsin.templating.gofmt import NO_VALUE
from tocsin.templating.gotime import GoDuration, GoTime

# Parameter kinds that literals convert to, as Go's evalArg does.
ANY = "any"
STRING = "string"
FLOAT = "float64"
INT = "int"
BOOL = "bool"


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list | tuple) and all(isinstance(e, str) for e in v)


# Checks for other parameter kinds, by Go type name. Extend with register_kind.
KIND_CHECKS: dict[str, Callable[[Any], bool]] = {
    "[]string": _is_str_list,
    "[]interface {}": lambda v: isinstance(v, list | tuple),
    "map[string]interface {}": lambda v: isinstance(v, Mapping),
    "time.Time": lambda v: isinstance(v, GoTime),
    "time.Duration": lambda v: isinstance(v, GoDuration),
}


def register_kind(name: str, check: Callable[[Any], bool]) -> None:
    """Declare a parameter kind (a Go type name) and how to recognise its values."""
    KIND_CHECKS[name] = check


class GoFunc:
    """A template function with Go-style declared parameters.

    `params` are the fixed parameter kinds, `variadic` the kind of a
    trailing ``...`` parameter (None if not variadic). The wrapped callable
    raises any exception to fail the call; the executor reports it as
    ``error calling NAME: MESSAGE``. With `wants_state`, the callable gets
    the executor state first (for functions like ``tmpl`` that run other
    templates).
    """

    __slots__ = ("fn", "lazy", "name", "params", "variadic", "wants_state")

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        params: tuple[str, ...] = (),
        variadic: str | None = None,
        *,
        wants_state: bool = False,
        lazy: bool = False,
    ) -> None:
        self.name = name
        self.fn = fn
        self.params = params
        self.variadic = variadic
        self.wants_state = wants_state
        self.lazy = lazy

    def __repr__(self) -> str:
        return f"GoFunc({self.name})"


def describe(name: str, fn: Callable[..., Any] | GoFunc) -> GoFunc:
    """A GoFunc for a function given to a template set (plain callables: any-typed)."""
    if isinstance(fn, GoFunc):
        return (
            fn
            if fn.name == name
            else GoFunc(
                name,
                fn.fn,
                fn.params,
                fn.variadic,
                wants_state=fn.wants_state,
                lazy=fn.lazy,
            )
        )
    if not callable(fn):
        raise TypeError(f"template function {name!r} is not callable")
    params, variadic = _signature_kinds(fn)
    return GoFunc(name, fn, params, variadic)


def _signature_kinds(
    fn: Callable[..., Any], skip_self: bool = False
) -> tuple[tuple[str, ...], str | None]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return (), ANY
    fixed: list[str] = []
    variadic: str | None = None
    for i, p in enumerate(sig.parameters.values()):
        if skip_self and i == 0:
            continue
        if p.kind is p.VAR_POSITIONAL:
            variadic = ANY
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            fixed.append(ANY)
    return tuple(fixed), variadic


_METHOD_CACHE: dict[tuple[type, str], GoFunc | None] = {}
_NO_METHOD_TYPES = (str, int, float, bool, dict, list, tuple, type(None), type(NO_VALUE))


def go_method(cls: type, name: str) -> GoFunc | None:
    """The Go-visible method `name` of a class: public, capitalised, callable.

    Returns a GoFunc describing the unbound method (first argument: receiver).
    """
    key = (cls, name)
    try:
        return _METHOD_CACHE[key]
    except KeyError:
        pass
    found: GoFunc | None = None
    if cls not in _NO_METHOD_TYPES and name[:1].isupper():
        attr = inspect.getattr_static(cls, name, None)
        if inspect.isfunction(attr):
            params, variadic = _signature_kinds(attr, skip_self=True)
            found = GoFunc(name, attr, params, variadic)
    _METHOD_CACHE[key] = found
    return found
