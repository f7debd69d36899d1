"""Go standard-library behaviours the template function sets share.

strconv.ParseFloat, regexp (``$1`` replacement templates; RE2 syntax comes
from tocsin.goregex), strings.ToUpper / cases.Title, url.QueryEscape,
net.SplitHostPort, encoding/json output. Each mirrors Go's results and
error texts closely enough that templates behave as they do upstream.
"""

from __future__ import annotations

import math
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from tocsin.goregex import GoRegexError, compile_go_regex
from tocsin.templating.gofmt import (
    NO_VALUE,
    format_float_plain,
    format_float_shortest,
    go_type_name,
)
from tocsin.templating.gotime import GoDuration, GoTime

_FLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9](?:_?[0-9])*)?\.?[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9]+)?"
    r"|[0-9]+\.(?:[eE][+-]?[0-9]+)?"
    r"|0[xX](?:[0-9a-fA-F_]*\.?[0-9a-fA-F_]*)[pP][+-]?[0-9]+"
    r"|inf(?:inity)?|nan)",
    re.IGNORECASE,
)


def parse_float(text: str) -> float:
    """Go's strconv.ParseFloat(text, 64), with Go's error text."""
    if not _FLOAT_RE.fullmatch(text):
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    body = text.replace("_", "")
    lower = body.lower().lstrip("+-")
    if lower.startswith("0x"):
        value = float.fromhex(body)
    else:
        value = float(body)
    if math.isinf(value) and "inf" not in lower:
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


def convert_to_float(value: Any) -> float:
    """Prometheus's ConvertToFloat: float64, string, ints, time.Duration."""
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        return parse_float(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, GoDuration):
        return value.Seconds()
    name = "<nil>" if value is None or value is NO_VALUE else go_type_name(value)
    raise ValueError(f"can't convert {name} to float")


# --- regular expressions ---------------------------------------------------


def compile_regexp(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern as Go's regexp.Compile would, with Go-like errors."""
    try:
        return compile_go_regex(pattern)
    except GoRegexError as exc:
        raise ValueError(
            f"regexp: Compile(`{pattern}`): error parsing regexp: {exc.reason}: `{pattern}`"
        ) from None


_EXPAND_RE = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _expander(template: str) -> Callable[[re.Match[str]], str]:
    """Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$; unknown groups are empty."""

    def expand(m: re.Match[str]) -> str:
        def sub(ref: re.Match[str]) -> str:
            if ref.group(0) == "$$":
                return "$"
            name = ref.group(1) or ref.group(2)
            try:
                value = m.group(int(name)) if name.isdigit() else m.group(name)
            except IndexError:
                return ""
            return value or ""

        return _EXPAND_RE.sub(sub, template)

    return expand


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """Go's regexp.MustCompile(pattern).ReplaceAllString(text, repl).

    Go skips an empty match right after a previous match ("a*" on "baaac"
    gives "-b-c-"), where Python's re.sub would also replace it.
    """
    regex = compile_regexp(pattern)
    expand = _expander(repl)
    out: list[str] = []
    last_end = 0
    pos = 0
    n = len(text)
    while pos <= n:
        m = regex.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(text[last_end:start])
        if end > last_end or start == 0:
            out.append(expand(m))
        last_end = end
        pos = end if end > pos else pos + 1
    out.append(text[last_end:])
    return "".join(out)


def re_match(pattern: str, text: str) -> bool:
    """Go's regexp.MatchString: an unanchored search."""
    return compile_regexp(pattern).search(text) is not None


# --- strings ----------------------------------------------------------------


# Word-break classes of golang.org/x/text/cases's title casing, which
# approximates Unicode word segmentation: "mid" runes (MidLetter, MidNumLet,
# Single_Quote) join letters, two mids in a row break, and anything that is
# not a letter, digit, mark, connector or format rune breaks a word.
_MID = frozenset(
    ":\u00b7\u0387\u05f4\u2027\ufe13\ufe55\uff1a.\u2018\u2019\u2024\ufe52\uff07\uff0e'"
)


def _is_break(ch: str) -> bool:
    if ch in _MID:
        return False
    cat = unicodedata.category(ch)
    return not (cat[0] in "LM" or cat in ("Nd", "Pc", "Cf"))


def _is_cased(ch: str) -> bool:
    return ch.isupper() or ch.islower() or ch.istitle()


def title(text: str, lower_rest: bool) -> str:
    """cases.Title: title-case the first cased rune of each word.

    With `lower_rest` the word's other cased runes are lower-cased
    (Alertmanager's `title`); without it they are kept (Prometheus uses
    cases.NoLower).
    """
    out: list[str] = []
    mid_word = False
    n = len(text)
    for i, ch in enumerate(text):
        was_mid = ch in _MID
        if _is_cased(ch):
            if not mid_word:
                out.append(_title_rune(ch))
                mid_word = True
            else:
                out.append(go_lower(ch) if lower_rest else ch)
        else:
            out.append(ch)
            if _is_break(ch):
                mid_word = False
        if was_mid and i + 1 < n and text[i + 1] in _MID:
            mid_word = False
    return "".join(out)


def _title_rune(ch: str) -> str:
    titled = ch.title()
    return titled if len(titled) == 1 else go_upper(ch)


def go_upper(text: str) -> str:
    """strings.ToUpper: one rune to one rune (ß stays ß, unlike Python)."""
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


def go_lower(text: str) -> str:
    """strings.ToLower: one rune to one rune."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


_GO_SPACE = (
    " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def trim_space(text: str) -> str:
    """strings.TrimSpace (Unicode White_Space)."""
    return text.strip(_GO_SPACE)


def query_escape(text: str) -> str:
    """url.QueryEscape."""
    return urllib.parse.quote_plus(text, safe="")


def query_unescape(text: str) -> str:
    """url.QueryUnescape, with Go's error for a bad escape."""
    for m in re.finditer(r"%(.{0,2})", text):
        digits = m.group(1)
        if len(digits) < 2 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError(f'invalid URL escape "{m.group(0)}"')
    return urllib.parse.unquote_plus(text, errors="surrogateescape")


# --- network addresses --------------------------------------------------------


def split_host_port(hostport: str) -> tuple[str, str]:
    """net.SplitHostPort. Raises ValueError like Go's AddrError."""
    i = hostport.rfind(":")
    if i < 0:
        raise ValueError(f"address {hostport}: missing port in address")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError(f"address {hostport}: missing ']' in address")
        if end + 1 == len(hostport):
            raise ValueError(f"address {hostport}: missing port in address")
        if end + 1 != i:
            if hostport[end + 1] == ":":
                raise ValueError(f"address {hostport}: too many colons in address")
            raise ValueError(f"address {hostport}: missing port in address")
        host = hostport[1:end]
        if "[" in hostport[1:end] or "]" in hostport[end + 1 :]:
            raise ValueError(f"address {hostport}: unexpected '[' in address")
    else:
        host = hostport[:i]
        if ":" in host:
            raise ValueError(f"address {hostport}: too many colons in address")
        if "[" in host or "]" in host:
            raise ValueError(f"address {hostport}: unexpected '[' in address")
    return host, hostport[i + 1 :]


def join_host_port(host: str, port: str) -> str:
    """net.JoinHostPort."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


# --- JSON ---------------------------------------------------------------------


def _json_float(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        raise ValueError(f"json: unsupported value: {format_float_shortest(v)}")
    a = abs(v)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        text = format_float_shortest(v)
        # Go writes e-09 as e-9 in JSON.
        return re.sub(r"e([+-])0(\d)$", r"e\1\2", text)
    return format_float_plain(v)


def _json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or ch in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(value: Any) -> str:
    """encoding/json.Marshal: sorted map keys, HTML-safe escapes, Go number forms."""
    if value is None or value is NO_VALUE:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, str):
        return _json_string(value)
    to_json = getattr(value, "go_json_value", None)
    if to_json is not None:
        # A Go struct: fields in declaration order, not sorted like a map.
        fields = to_json()
        return "{" + ",".join(f"{_json_string(k)}:{go_json(v)}" for k, v in fields.items()) + "}"
    if isinstance(value, GoTime):
        return _json_string(value.Format("2006-01-02T15:04:05.999999999Z07:00"))
    if isinstance(value, GoDuration):
        return str(value.ns)
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_json_string(k)}:{go_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise ValueError(f"json: unsupported type: {go_type_name(value)}")
