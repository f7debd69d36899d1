"""Go text/template's predefined functions."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from tocsin.templating.funcs import ANY, STRING, GoFunc
from tocsin.templating.gofmt import (
    NO_VALUE,
    format_value,
    go_type_name,
    is_true,
    sprint,
    sprintf,
    sprintln,
)
from tocsin.templating.gotime import GoDuration, GoTime

_INT_KIND = "int"
_UINT_KIND = "uint"
_FLOAT_KIND = "float"
_STRING_KIND = "string"
_BOOL_KIND = "bool"


def _basic_kind(v: Any) -> str | None:
    if isinstance(v, bool):
        return _BOOL_KIND
    if isinstance(v, int):
        return _INT_KIND
    if isinstance(v, float):
        return _FLOAT_KIND
    if isinstance(v, str):
        return _STRING_KIND
    return None


def _is_nil(v: Any) -> bool:
    return v is None or v is NO_VALUE


def _comparable(v: Any) -> bool:
    return not isinstance(v, Mapping | list | tuple | set) and not callable(v)


def _eq(arg1: Any, *rest: Any) -> bool:
    if not rest:
        raise ValueError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in rest:
        k2 = _basic_kind(arg)
        if k1 != k2:
            if not _is_nil(arg1) and not _is_nil(arg):
                raise ValueError("incompatible types for comparison")
            truth = False
        elif k1 is not None:
            truth = arg1 == arg
        else:
            if _is_nil(arg1) or _is_nil(arg):
                truth = _is_nil(arg1) and _is_nil(arg)
            elif not _comparable(arg1) or not _comparable(arg):
                raise ValueError(f"non-comparable type {format_value(arg)}: {go_type_name(arg)}")
            elif type(arg1) is not type(arg):
                raise ValueError("incompatible types for comparison")
            else:
                truth = arg1 == arg
        if truth:
            return True
    return False


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _basic_kind(a), _basic_kind(b)
    if ka in (None, _BOOL_KIND) or kb in (None, _BOOL_KIND):
        raise ValueError("invalid type for comparison")
    if ka != kb:
        raise ValueError("incompatible types for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _not(arg: Any) -> bool:
    return not is_true(arg)


def _len(item: Any) -> int:
    if item is None or item is NO_VALUE:
        raise ValueError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, Mapping | list | tuple):
        return len(item)
    raise ValueError(f"len of type {go_type_name(item)}")


def _index_int(i: Any, what: str) -> int:
    if isinstance(i, bool) or not isinstance(i, int):
        raise ValueError(f"cannot index {what} with type {go_type_name(i)}")
    return i


def _index(item: Any, *indexes: Any) -> Any:
    if item is None or item is NO_VALUE:
        raise ValueError("index of untyped nil")
    for idx in indexes:
        if item is None or item is NO_VALUE:
            raise ValueError("index of nil pointer")
        if isinstance(item, str):
            data = item.encode()
            i = _index_int(idx, "slice/array")
            if not 0 <= i < len(data):
                raise ValueError(f"index out of range: {i}")
            item = data[i]
        elif isinstance(item, list | tuple):
            i = _index_int(idx, "slice/array")
            if not 0 <= i < len(item):
                raise ValueError(f"index out of range: {i}")
            item = item[i]
        elif isinstance(item, Mapping):
            if idx is None or idx is NO_VALUE:
                raise ValueError("value is nil; should be of type string")
            try:
                item = item[idx]
            except KeyError:
                item = getattr(type(item), "go_zero", None)
            except TypeError:
                raise ValueError(f"value has type {go_type_name(idx)}; should be string") from None
        else:
            raise ValueError(f"can't index item of type {go_type_name(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None or item is NO_VALUE:
        raise ValueError("slice of untyped nil")
    if len(indexes) > 3:
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise ValueError("cannot 3-index slice a string")
        seq: Any = item.encode()
        cap = len(seq)
    elif isinstance(item, list | tuple):
        seq = item
        cap = len(seq)
    else:
        raise ValueError(f"can't slice item of type {go_type_name(item)}")
    idx = [0, len(seq)]
    for i, index in enumerate(indexes):
        x = _index_int(index, "slice/array")
        if not 0 <= x <= cap:
            raise ValueError(f"index out of range: {x}")
        if i < 2:
            idx[i] = x
    if idx[0] > idx[1]:
        raise ValueError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > indexes[2]:
        raise ValueError(f"invalid slice index: {idx[1]} > {indexes[2]}")
    out = seq[idx[0] : idx[1]]
    if isinstance(item, str):
        return out.decode(errors="replace")
    return out


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*args)


_HTML_ESCAPE = str.maketrans(
    {"&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "\0": "\ufffd"}
)


def html_escape(text: str) -> str:
    """Go's template.HTMLEscapeString."""
    return text.translate(_HTML_ESCAPE)


def _html(*args: Any) -> str:
    return html_escape(_eval_args(args))


def js_escape(text: str) -> str:
    """Go's template.JSEscapeString."""
    out: list[str] = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == '"':
            out.append('\\"')
        elif ch in "<>&=":
            out.append(f"\\u{ord(ch):04X}")
        elif ord(ch) < 0x20 or (ord(ch) >= 0x80 and not ch.isprintable()):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _js(*args: Any) -> str:
    return js_escape(_eval_args(args))


def _urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="")


def _printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, *args)


def _call(fn: Any, *args: Any) -> Any:
    if fn is None or fn is NO_VALUE:
        raise ValueError("call of nil")
    if isinstance(fn, GoFunc):
        return fn.fn(*args)
    if not callable(fn) or isinstance(fn, GoTime | GoDuration):
        raise ValueError(f"non-function {format_value(fn)} of type {go_type_name(fn)}")
    return fn(*args)


def _and(*args: Any) -> Any:  # evaluated lazily by the executor
    raise AssertionError("and is evaluated by the executor")


BUILTINS: dict[str, GoFunc] = {
    "and": GoFunc("and", _and, (ANY,), ANY, lazy=True),
    "or": GoFunc("or", _and, (ANY,), ANY, lazy=True),
    "not": GoFunc("not", _not, (ANY,)),
    "len": GoFunc("len", _len, (ANY,)),
    "index": GoFunc("index", _index, (ANY,), ANY),
    "slice": GoFunc("slice", _slice, (ANY,), ANY),
    "print": GoFunc("print", sprint, (), ANY),
    "printf": GoFunc("printf", _printf, (STRING,), ANY),
    "println": GoFunc("println", sprintln, (), ANY),
    "html": GoFunc("html", _html, (), ANY),
    "js": GoFunc("js", _js, (), ANY),
    "urlquery": GoFunc("urlquery", _urlquery, (), ANY),
    "call": GoFunc("call", _call, (ANY,), ANY),
    "eq": GoFunc("eq", _eq, (ANY,), ANY),
    "ne": GoFunc("ne", _ne, (ANY, ANY)),
    "lt": GoFunc("lt", _lt, (ANY, ANY)),
    "le": GoFunc("le", _le, (ANY, ANY)),
    "gt": GoFunc("gt", _gt, (ANY, ANY)),
    "ge": GoFunc("ge", _ge, (ANY, ANY)),
}
