"""Alertmanager label matchers: parsing, printing, ordering.

Alertmanager accepts two syntaxes. The current one (`{a="b", c=~"d|e"}`,
values quoted with Go string escapes, or bare words) and the classic one
(`a=b` with OpenMetrics escaping, a more lenient grammar). Like
Alertmanager's default "fallback" mode we try the current parser first and
fall back to the classic one, so every config Alertmanager loads, loads here.

Matchers are `tocsin.tsdb.types.LabelMatcher` (regexes fully anchored).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

from tocsin import gostrings
from tocsin.goregex import GoRegexError, compile_go_regex
from tocsin.gostrings import go_quote_plain as go_quote
from tocsin.tsdb.types import LabelMatcher, MatchOp

__all__ = [
    "GoRegexMatcher",
    "MatcherError",
    "format_matcher",
    "format_matchers",
    "go_quote",
    "is_valid_label_name",
    "matcher_from_api",
    "matcher_to_api",
    "matches_all",
    "matches_empty",
    "new_matcher",
    "parse_matcher",
    "parse_matchers",
    "sort_matchers",
]


class MatcherError(ValueError):
    """A matcher (or list of matchers) could not be parsed."""


_CLASSIC_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_OP_ORDER = {MatchOp.EQ: 0, MatchOp.NE: 1, MatchOp.RE: 2, MatchOp.NRE: 3}


def is_valid_label_name(name: str, *, classic: bool = False) -> bool:
    """Classic names are Prometheus identifiers; otherwise any non-empty text."""
    if classic:
        return _CLASSIC_NAME.match(name) is not None
    return name != ""


class GoRegexMatcher(LabelMatcher):
    """A regex matcher with Alertmanager's (Go) semantics: `^(?:re)$`, and `.`
    does not match a newline (Prometheus' LabelMatcher uses `(?s)`)."""

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return compile_go_regex(self.value, anchored=True)


def new_matcher(name: str, op: MatchOp, value: str) -> LabelMatcher:
    """Build a matcher, compiling regexes now so a bad one fails at load time."""
    if op not in (MatchOp.RE, MatchOp.NRE):
        return LabelMatcher(name, op, value)
    try:
        compile_go_regex(value, anchored=True)
    except GoRegexError as exc:
        raise MatcherError(str(exc)) from None
    return GoRegexMatcher(name, op, value)


def matcher_to_api(m: LabelMatcher) -> dict[str, Any]:
    """Alertmanager API v2's matcher object: name, value, isRegex, isEqual."""
    return {
        "name": m.name,
        "value": m.value,
        "isRegex": m.op in (MatchOp.RE, MatchOp.NRE),
        "isEqual": m.op in (MatchOp.EQ, MatchOp.RE),
    }


def matcher_from_api(d: Mapping[str, Any]) -> LabelMatcher:
    """The inverse of matcher_to_api; `isEqual` defaults to true, as in the API."""
    try:
        name, value = d["name"], d["value"]
    except KeyError as exc:
        raise MatcherError(f"matcher is missing {exc.args[0]!r}") from None
    if not isinstance(name, str) or not isinstance(value, str):
        raise MatcherError("matcher name and value must be strings")
    regex, equal = bool(d.get("isRegex", False)), bool(d.get("isEqual", True))
    op = (MatchOp.RE if equal else MatchOp.NRE) if regex else (MatchOp.EQ if equal else MatchOp.NE)
    return new_matcher(name, op, value)


def matches_all(matchers: Iterable[LabelMatcher], labels: Mapping[str, str]) -> bool:
    """Do all matchers accept the label set? A missing label is the empty value."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def matches_empty(m: LabelMatcher) -> bool:
    return m.matches("")


def sort_matchers(matchers: Iterable[LabelMatcher]) -> list[LabelMatcher]:
    """Alertmanager's canonical order: by name, then value, then operator."""
    return sorted(matchers, key=lambda m: (m.name, m.value, _OP_ORDER[m.op]))


# --- printing -----------------------------------------------------------------

_RESERVED_CHARS = set("{}!=~,\\\"'`")


def _is_reserved(ch: str) -> bool:
    return ch.isspace() or ch in _RESERVED_CHARS


def _openmetrics_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_matcher(m: LabelMatcher) -> str:
    """`name="value"` exactly as Alertmanager prints a matcher."""
    if any(_is_reserved(ch) for ch in m.name):
        return f"{go_quote(m.name)}{m.op.value}{go_quote(m.value)}"
    return f'{m.name}{m.op.value}"{_openmetrics_escape(m.value)}"'


def format_matchers(matchers: Sequence[LabelMatcher]) -> str:
    """`{a="b",c=~"d"}` as Alertmanager prints a matcher list."""
    return "{" + ",".join(format_matcher(m) for m in matchers) + "}"


# --- the current (UTF-8) parser -------------------------------------------------

_OPS = {"=": MatchOp.EQ, "!=": MatchOp.NE, "=~": MatchOp.RE, "!~": MatchOp.NRE}


class _Tok:
    __slots__ = ("col", "kind", "text")

    def __init__(self, kind: str, text: str, col: int) -> None:
        self.kind = kind  # "{", "}", ",", "op", "quoted", "word"
        self.text = text
        self.col = col


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "{},":
            toks.append(_Tok(ch, ch, i))
            i += 1
        elif ch in "=!":
            two = text[i : i + 2]
            if two in ("!=", "!~", "=~"):
                toks.append(_Tok("op", two, i))
                i += 2
            elif ch == "=":
                toks.append(_Tok("op", "=", i))
                i += 1
            else:
                raise MatcherError(f"{i}:{i + 1}: {ch}: expected one of '=~'")
        elif ch == '"':
            j = i + 1
            escaped = False
            while j < n:
                c = text[j]
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == '"':
                    break
                j += 1
            if j >= n:
                raise MatcherError(f'{i}:{n}: {text[i:]}: missing end "')
            toks.append(_Tok("quoted", text[i : j + 1], i))
            i = j + 1
        elif not _is_reserved(ch):
            j = i
            while j < n and not _is_reserved(text[j]):
                j += 1
            toks.append(_Tok("word", text[i:j], i))
            i = j
        else:
            raise MatcherError(f"{i}:{i + 1}: {ch}: invalid input")
    return toks


def go_unquote(quoted: str) -> str:
    """Undo Go's double-quoted string escapes (strconv.Unquote)."""
    if len(quoted) < 2 or quoted[0] != '"':
        raise MatcherError(f"{quoted}: not a quoted string")
    try:
        return gostrings.go_unquote(quoted)
    except ValueError:
        raise MatcherError(f"{quoted}: invalid quoted string") from None


def _parse_current(text: str) -> list[LabelMatcher]:
    toks = _lex(text)
    pos = 0
    out: list[LabelMatcher] = []

    def peek() -> _Tok | None:
        return toks[pos] if pos < len(toks) else None

    def unexpected(t: _Tok | None, what: str) -> MatcherError:
        if t is None:
            return MatcherError(f"unexpected end of input: {what}")
        return MatcherError(f"{t.col}:{t.col + len(t.text)}: unexpected {t.text}: {what}")

    def value_of(t: _Tok) -> str:
        return go_unquote(t.text) if t.kind == "quoted" else t.text

    open_brace = False
    if (t := peek()) is not None and t.kind == "{":
        open_brace = True
        pos += 1
    while True:
        t = peek()
        if t is None or t.kind == "}":
            break
        if t.kind not in ("word", "quoted"):
            raise unexpected(t, "expected label name")
        name = value_of(t)
        pos += 1
        op_tok = peek()
        if op_tok is None or op_tok.kind != "op":
            raise unexpected(op_tok, "expected an operator such as '=', '!=', '=~' or '!~'")
        pos += 1
        v = peek()
        if v is None or v.kind not in ("word", "quoted"):
            raise unexpected(v, "expected label value")
        pos += 1
        out.append(new_matcher(name, _OPS[op_tok.text], value_of(v)))
        t = peek()
        if t is None or t.kind == "}":
            break
        if t.kind != ",":
            raise unexpected(t, "expected a comma or close brace")
        pos += 1
    t = peek()
    if open_brace:
        if t is None or t.kind != "}":
            raise unexpected(t, "expected close brace")
        pos += 1
    elif t is not None and t.kind == "}":
        raise MatcherError(f"{t.col}:{t.col + 1}: }}: expected opening brace")
    if (t := peek()) is not None:
        raise unexpected(t, "expected end of input")
    return out


# --- the classic parser --------------------------------------------------------

_CLASSIC = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)


def _parse_classic_one(text: str) -> LabelMatcher:
    m = _CLASSIC.match(text)
    if m is None:
        raise MatcherError(f"bad matcher format: {text}")
    raw = m.group(3)
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch == "\\" and i < n - 1:
            nxt = raw[i + 1]
            if nxt == "n":
                out.append("\n")
            elif nxt in ('"', "\\"):
                out.append(nxt)
            else:  # a lone backslash stays literal
                out.append("\\" + nxt)
            i += 2
            continue
        if ch == '"':
            if not quoted or i < n - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {m.group(3)}")
            quoted = False
        else:
            out.append(ch)
        i += 1
    if quoted:
        raise MatcherError(f"matcher value contains unescaped double quote: {m.group(3)}")
    return new_matcher(m.group(1), _OPS[m.group(2)], "".join(out))


def _split_classic(text: str) -> list[str]:
    text = text.removeprefix("{").removesuffix("}")
    parts: list[str] = []
    cur: list[str] = []
    in_quotes = escaped = False
    for ch in text:
        if ch == "," and not in_quotes:
            parts.append("".join(cur))
            cur = []
            continue
        if ch == '"':
            if not escaped:
                in_quotes = not in_quotes
            else:
                escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        cur.append(ch)
    last = "".join(cur).strip()
    if last:
        parts.append(last)
    return parts


def _parse_classic(text: str) -> list[LabelMatcher]:
    return [_parse_classic_one(part) for part in _split_classic(text)]


# --- public entry points ------------------------------------------------------


def parse_matchers(text: str) -> list[LabelMatcher]:
    """Parse `{a="b", c=~"d"}` (braces optional) into matchers, in input order."""
    try:
        return _parse_current(text)
    except MatcherError as current_err:
        try:
            return _parse_classic(text)
        except MatcherError:
            raise MatcherError(f"{text!r}: {current_err}") from None


def parse_matcher(text: str) -> LabelMatcher:
    """Parse exactly one matcher such as `severity!="info"` (no braces)."""
    if text.startswith("{") or text.endswith("}"):
        raise MatcherError(f"unexpected open or close brace: {text}")
    found = parse_matchers(text)
    if len(found) != 1:
        raise MatcherError(f"{text!r}: expected 1 matcher, found {len(found)}")
    return found[0]
