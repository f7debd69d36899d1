"""Go's fmt printing rules, as templates see them.

Values printed by a template must read exactly as Go prints them: float64
in shortest form with an exponent from 1e+06 on, maps as ``map[k:v]`` with
sorted keys, slices as ``[a b]``, ``<nil>``, ``%!d(string=x)`` for a verb
that does not fit its argument, and so on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tocsin.gostrings import go_quote


class _NoValue:
    """Go's invalid reflect.Value: what a missing key or nil data yields."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __bool__(self) -> bool:
        return False


NO_VALUE: Any = _NoValue()


def go_type_name(value: Any) -> str:
    """The Go type name a value stands for, as error messages spell it."""
    if value is None or value is NO_VALUE:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return getattr(type(value), "go_type", "string")
    go_type = getattr(type(value), "go_type", None)
    if go_type:
        return str(go_type)
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    if callable(value):
        return "func"
    return type(value).__name__


def _float_digits(v: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |v| and the decimal point position."""
    _sign, digits, exponent = Decimal(repr(abs(v))).as_tuple()
    text = "".join(str(d) for d in digits)
    assert isinstance(exponent, int)
    dp = len(text) + exponent
    text = text.rstrip("0")
    return text, dp


def format_float_shortest(v: float, upper: bool = False) -> str:
    """Go's %v / strconv 'g' with precision -1 for a float64."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    neg = math.copysign(1.0, v) < 0
    if v == 0:
        return "-0" if neg else "0"
    digits, dp = _float_digits(v)
    nd = len(digits)
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if nd > 1 else "")
        esign = "-" if exp < 0 else "+"
        text = f"{mant}{'E' if upper else 'e'}{esign}{abs(exp):02d}"
    elif dp <= 0:
        text = "0." + "0" * (-dp) + digits
    elif dp >= nd:
        text = digits + "0" * (dp - nd)
    else:
        text = digits[:dp] + "." + digits[dp:]
    return "-" + text if neg else text


def format_float_plain(v: float) -> str:
    """Shortest round-trip digits without an exponent (strconv 'f', precision -1)."""
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    digits, dp = _float_digits(v)
    nd = len(digits)
    if dp <= 0:
        text = "0." + "0" * (-dp) + digits
    elif dp >= nd:
        text = digits + "0" * (dp - nd)
    else:
        text = digits[:dp] + "." + digits[dp:]
    return "-" + text if v < 0 else text


def format_float(v: float, verb: str, prec: int | None, plus: bool = False) -> str:
    """Go's %e %E %f %F %g %G %v for a float64 (sign included, no padding)."""
    if math.isnan(v):
        return "+NaN" if plus else "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if verb in "vgG" and prec is None:
        text = format_float_shortest(v, upper=verb == "G")
    else:
        py = {"F": "f", "v": "g"}.get(verb, verb)
        if prec is None:
            prec = 6
        if verb in "gG" and prec == 0:
            prec = 1
        text = f"{v:.{prec}{py}}"
    if plus and not text.startswith("-"):
        text = "+" + text
    return text


def format_value(value: Any) -> str:
    """Go's %v for any value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float_shortest(value)
    if value is None or value is NO_VALUE:
        return "<nil>"
    stringer = getattr(value, "String", None)
    if stringer is not None and callable(stringer):
        return str(stringer())
    fields = getattr(type(value), "go_fields", None)
    if fields is not None:
        # A Go struct prints its field values in order: {a b c}, &{...} via a pointer.
        inner = " ".join(format_value(getattr(value, f)) for f in fields)
        return ("&{" if getattr(type(value), "go_pointer", False) else "{") + inner + "}"
    error = getattr(value, "Error", None)
    if error is not None and callable(error):
        return str(error())
    if isinstance(value, BaseException):
        return str(value)
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: _sort_key(kv[0]))
        return "map[" + " ".join(f"{format_value(k)}:{format_value(v)}" for k, v in items) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return "{" + " ".join(format_value(getattr(value, f.name)) for f in fields) + "}"
    if callable(value):
        return f"{hex(id(value))}"
    return str(value)


def _sort_key(key: Any) -> tuple[int, Any]:
    if isinstance(key, bool):
        return (0, int(key))
    if isinstance(key, int | float):
        return (1, key)
    return (2, str(key))


def sort_map_keys(keys: Sequence[Any]) -> list[Any]:
    """Keys in the order Go's fmt and text/template range use for maps."""
    return sorted(keys, key=_sort_key)


def sprint(*args: Any) -> str:
    """Go's fmt.Sprint: spaces between operands when neither side is a string."""
    out: list[str] = []
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg))
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any) -> str:
    """Go's fmt.Sprintln: spaces between all operands, newline at the end."""
    return " ".join(format_value(a) for a in args) + "\n"


def _can_backquote(s: str) -> bool:
    return all(ch == "\t" or (ch.isprintable() and ch != "`") for ch in s) and "\ufeff" not in s


class _Spec:
    __slots__ = ("minus", "plus", "prec", "sharp", "space", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.prec: int | None = None


def _pad(text: str, spec: _Spec, numeric: bool) -> str:
    width = spec.width
    if width is None or len(text) >= width:
        return text
    fill = width - len(text)
    if spec.minus:
        return text + " " * fill
    if spec.zero and numeric:
        sign = text[0] if text[:1] in ("-", "+", " ") else ""
        body = text[len(sign) :]
        return sign + "0" * fill + body
    if spec.zero and not numeric:
        return "0" * fill + text
    return " " * fill + text


def _bad_verb(verb: str, arg: Any) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(arg)}={format_value(arg)})"


def _fmt_int(n: int, verb: str, spec: _Spec) -> str | None:
    if verb == "c":
        return _pad(chr(n), spec, False)
    if verb == "q":
        return _pad(go_quote(chr(n), "'"), spec, False)
    if verb == "U":
        text = f"U+{n:04X}"
        if spec.sharp and chr(n).isprintable():
            text += f" '{chr(n)}'"
        return _pad(text, spec, False)
    base = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}.get(verb)
    if base is None:
        return None
    digits = format(abs(n), {2: "b", 8: "o", 10: "d", 16: "x"}[base])
    if verb == "X":
        digits = digits.upper()
    if spec.prec is not None:
        digits = digits.rjust(spec.prec, "0")
        if spec.prec == 0 and n == 0:
            digits = ""
    prefix = ""
    if verb == "O":
        prefix = "0o"
    elif spec.sharp:
        prefix = {2: "0b", 8: "0", 16: "0x" if verb == "x" else "0X"}.get(base, "")
        if base == 8 and digits.startswith("0"):
            prefix = ""
    sign = "-" if n < 0 else ("+" if spec.plus else (" " if spec.space else ""))
    text = sign + prefix + digits
    zero_ok = spec.prec is None
    if spec.zero and zero_ok and not spec.minus and spec.width and len(text) < spec.width:
        return sign + prefix + "0" * (spec.width - len(text)) + digits
    return _pad(text, spec, False)


def _fmt_float(v: float, verb: str, spec: _Spec) -> str | None:
    if verb not in "vfFeEgG":
        return None
    text = format_float(v, verb, spec.prec, plus=spec.plus)
    if spec.space and not spec.plus and text[:1] not in "-+":
        text = " " + text
    if math.isinf(v) or math.isnan(v):
        return _pad(text, spec, False)
    return _pad(text, spec, True)


def _fmt_str(s: str, verb: str, spec: _Spec) -> str | None:
    if verb in "sv":
        if spec.prec is not None:
            s = s[: spec.prec]
        return _pad(s, spec, False)
    if verb == "q":
        if spec.prec is not None:
            s = s[: spec.prec]
        if spec.sharp and _can_backquote(s):
            return _pad("`" + s + "`", spec, False)
        return _pad(go_quote(s, ascii_only=spec.plus), spec, False)
    if verb in "xX":
        data = s.encode()
        if spec.prec is not None:
            data = data[: spec.prec]
        hexes = [f"{b:02x}" if verb == "x" else f"{b:02X}" for b in data]
        if spec.sharp:
            hexes = [("0x" if verb == "x" else "0X") + h for h in hexes]
        sep = " " if spec.space else ""
        text = sep.join(hexes)
        if spec.sharp and not spec.space and hexes:
            text = ("0x" if verb == "x" else "0X") + "".join(h[2:] for h in hexes)
        return _pad(text, spec, False)
    return None


def _fmt_arg(arg: Any, verb: str, spec: _Spec) -> str:
    if verb == "T":
        return _pad(go_type_name(arg), spec, False)
    if arg is None or arg is NO_VALUE:
        if verb == "v":
            return _pad("<nil>", spec, False)
        return _bad_verb(verb, None)
    if isinstance(arg, bool):
        if verb in "tv":
            return _pad("true" if arg else "false", spec, False)
        return _bad_verb(verb, arg)
    if isinstance(arg, int):
        out = _fmt_int(arg, verb, spec)
        return out if out is not None else _bad_verb(verb, arg)
    if isinstance(arg, float):
        out = _fmt_float(arg, verb, spec)
        return out if out is not None else _bad_verb(verb, arg)
    if isinstance(arg, str):
        out = _fmt_str(arg, verb, spec)
        return out if out is not None else _bad_verb(verb, arg)
    stringer = getattr(arg, "String", None) or getattr(arg, "Error", None)
    if stringer is not None and callable(stringer) and verb in "vsq":
        return _fmt_str(str(stringer()), verb, spec) or ""
    if isinstance(arg, Mapping):
        items = sorted(arg.items(), key=lambda kv: _sort_key(kv[0]))
        inner = " ".join(
            f"{_fmt_arg(k, verb, _Spec())}:{_fmt_arg(v, verb, _Spec())}" for k, v in items
        )
        return _pad("map[" + inner + "]", spec, False)
    if isinstance(arg, list | tuple):
        inner = " ".join(_fmt_arg(v, verb, _Spec()) for v in arg)
        return _pad("[" + inner + "]", spec, False)
    if verb in "vs":
        return _pad(format_value(arg), spec, False)
    return _bad_verb(verb, arg)


def sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs and flags templates use."""
    out: list[str] = []
    argi = 0
    i = 0
    n = len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        if i >= n:
            out.append("%!(NOVERB)")
            break
        spec = _Spec()
        while i < n and fmt[i] in "+-# 0":
            c = fmt[i]
            if c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus = True
                spec.zero = False
            elif c == "#":
                spec.sharp = True
            elif c == " ":
                spec.space = True
            elif not spec.minus:
                spec.zero = True
            i += 1
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int):
                spec.width = args[argi]
                if spec.width < 0:
                    spec.minus, spec.width = True, -spec.width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                spec.width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int) and args[argi] >= 0:
                    spec.prec = args[argi]
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                spec.prec = int(fmt[start:i]) if i > start else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_fmt_arg(arg, verb, spec))
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type_name(a)}={format_value(a)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def is_true(value: Any) -> bool:
    """Go template truth: false, 0, nil, empty string/slice/map are false."""
    if value is None or value is NO_VALUE:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | complex):
        return value != 0
    if isinstance(value, str | Mapping | list | tuple):
        return len(value) > 0
    return True
