"""Go (RE2) regular expressions on Python's `re`.

PromQL matchers, Alertmanager matchers and templates all take Go regexes.
Python's `re` agrees on everything usual but spells or reads a few things
differently; `go_to_python_regex` rewrites those so the pattern keeps Go's
meaning:

* flags such as `(?i)` may appear anywhere in Go and apply to the rest of
  the enclosing group, across `|`; they become scoped groups `(?i:...)`;
* `$` is end of text unless `(?m)` is on (Python's also matches before a
  final newline) and `\\z` is end of text: both become `\\Z`;
* `\\d \\s \\w \\b \\B` are ASCII in Go, Unicode in Python;
* `(?<name>...)`, `\\Q...\\E`, `\\x{10FFFF}` and `[[:alpha:]]` have no
  Python spelling;
* inside `[...]`, `[`, `&&`, `--`, `||` and `~~` are plain characters;
* `x{,3}` is literal text in Go but a repeat in Python.

What Python cannot express or Go does not accept (Unicode classes `\\pL`,
backreferences, lookarounds, the ungreedy flag, possessive quantifiers...)
is refused with a reason (`go_regex_problem`) rather than guessed at. One
known gap: the negated classes `\\D \\S \\W` inside `[...]` stay Unicode.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

__all__ = ["GoRegexError", "compile_go_regex", "go_regex_problem", "go_to_python_regex"]


class GoRegexError(ValueError):
    """A Go regex that is invalid, or that Python would read differently."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"invalid regular expression {pattern!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


_WORD = "0-9A-Za-z_"
_PERL_CLASSES = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": _WORD}
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7F",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": _WORD,
    "xdigit": "0-9A-Fa-f",
}
_BOUNDARY = f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))"
_NOT_BOUNDARY = f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))"
_REPEAT = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")
_EMPTY_MIN_REPEAT = re.compile(r"\{,[0-9]*\}")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_MAX_REPEAT = 1000  # Go's limit on a repeat count
_CLASS_SPECIAL = frozenset("\\[]^-&~|")


@dataclass
class _Group:
    # Flag groups opened inside this group by a bare `(?i)`: closed at every
    # `|` and at the group's end, then reopened after the `|`.
    opened: list[str] = field(default_factory=list)
    multiline_before: bool = False


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.n = len(pattern)
        self.out: list[str] = []
        self.groups = [_Group()]
        self.multiline = False

    def run(self) -> str:
        i = 0
        while i < self.n:
            i = self.step(i)
        self.out.append(")" * len(self.groups[0].opened))
        return "".join(self.out)

    def step(self, i: int) -> int:
        p, ch = self.p, self.p[i]
        if ch == "\\":
            return self.escape(i)
        if ch == "[":
            return self.char_class(i)
        if ch == "(":
            return self.open_group(i)
        if ch == ")":
            if len(self.groups) > 1:
                group = self.groups.pop()
                self.out.append(")" * len(group.opened))
                self.multiline = group.multiline_before
            self.out.append(")")
            return i + 1
        if ch == "|":
            opened = self.groups[-1].opened
            self.out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
            return i + 1
        if ch == "$":
            self.out.append("$" if self.multiline else "\\Z")
            return i + 1
        if ch == "{":
            m = _REPEAT.match(p, i)
            if m is not None:
                counts = [int(c) for c in m.groups() if c]
                if any(c > _MAX_REPEAT for c in counts):
                    raise _Refused(f"invalid repeat count {m.group(0)} (Go allows at most 1000)")
                self.out.append(m.group(0))
                return self.after_quantifier(m.end())
            # Go reads a brace that starts no repeat as itself; Python reads
            # `{,n}` as a repeat.
            self.out.append("\\{" if _EMPTY_MIN_REPEAT.match(p, i) else "{")
            return i + 1
        self.out.append(ch)
        if ch in "*+?":
            return self.after_quantifier(i + 1)
        return i + 1

    def after_quantifier(self, i: int) -> int:
        if i < self.n and self.p[i] == "?":  # lazy: the same in both
            self.out.append("?")
            i += 1
        elif i < self.n and self.p[i] == "+":
            raise _Refused(
                "possessive quantifiers like a++ are not valid in Go (RE2) syntax "
                "(Go: invalid nested repetition operator)"
            )
        return i

    def escaped(self, i: int) -> str:
        """The character after the backslash at i."""
        if i + 1 >= self.n:
            raise _Refused("trailing backslash at end of expression")
        return self.p[i + 1]

    def quoted(self, i: int) -> tuple[str, int]:
        """`\\Q...\\E` at i (the `\\E` may be missing): its text, the index after."""
        close = self.p.find("\\E", i + 2)
        if close < 0:
            return self.p[i + 2 :], self.n
        return self.p[i + 2 : close], close + 2

    def escape(self, i: int) -> int:
        p = self.p
        esc = self.escaped(i)
        if esc == "Q":
            literal, end = self.quoted(i)
            self.out.append(re.escape(literal))
            return end
        if esc in "pP":
            raise _Refused(f"the Go escape \\{esc} (Unicode classes) is not supported by tocsin")
        if esc in "CZ":
            raise _Refused(f"the escape \\{esc} is not supported by tocsin")
        if esc in "123456789":
            raise _Refused(f"backreference \\{esc} is not valid in Go (RE2) syntax")
        if esc == "x" and p.startswith("{", i + 2):
            text, end = self.wide_hex(i)
            self.out.append(text)
            return end
        if esc == "z":
            self.out.append("\\Z")
        elif esc == "b":
            self.out.append(_BOUNDARY)
        elif esc == "B":
            self.out.append(_NOT_BOUNDARY)
        elif esc.lower() in _PERL_CLASSES:
            negate = "^" if esc.isupper() else ""
            self.out.append(f"[{negate}{_PERL_CLASSES[esc.lower()]}]")
        else:
            self.out.append(p[i : i + 2])
        return i + 2

    def wide_hex(self, i: int) -> tuple[str, int]:
        """`\\x{10FFFF}` at i: its Python spelling and the index after it."""
        close = self.p.find("}", i + 3)
        digits = self.p[i + 3 : close] if close > 0 else ""
        if not _HEX.fullmatch(digits) or int(digits, 16) > 0x10FFFF:
            raise _Refused(f"invalid escape \\x{{{digits}}}")
        return f"\\U{int(digits, 16):08x}", close + 1

    def open_group(self, i: int) -> int:
        p = self.p
        if not p.startswith("(?", i):
            self.groups.append(_Group(multiline_before=self.multiline))
            self.out.append("(")
            return i + 1
        rest = p[i + 2 : i + 4]
        if rest.startswith(("=", "!", "<=", "<!")):
            raise _Refused("lookaround assertions are not valid in Go (RE2) syntax")
        if rest.startswith(("P<", "<")):
            self.groups.append(_Group(multiline_before=self.multiline))
            self.out.append("(?P<")
            return i + (4 if rest.startswith("P") else 3)
        if rest.startswith("P="):
            raise _Refused("backreference (?P=name) is not valid in Go (RE2) syntax")
        j = i + 2
        while j < self.n and p[j] not in ":)":
            j += 1
        flags = p[i + 2 : j]
        if j >= self.n:
            raise _Refused(f"missing closing ) after (?{flags}")
        self.check_flags(flags, scoped=p[j] == ":")
        if p[j] == ")":
            self.groups[-1].opened.append(flags)
        else:
            self.groups.append(_Group(multiline_before=self.multiline))
        on, _, off = flags.partition("-")
        if "m" in on:
            self.multiline = True
        elif "m" in off:
            self.multiline = False
        self.out.append(f"(?{flags}:")
        return j + 1

    @staticmethod
    def check_flags(flags: str, *, scoped: bool) -> None:
        if "U" in flags:
            raise _Refused("the ungreedy flag (?U) is not supported by tocsin")
        _, dash, off = flags.partition("-")
        valid = (
            set(flags) <= set("ims-")
            and "-" not in off
            and (scoped or flags != "")
            and not (dash and off == "")
        )
        if not valid:
            raise _Refused(f"flags (?{flags}) are not valid in Go (RE2) syntax")

    def char_class(self, i: int) -> int:
        p, j = self.p, i + 1
        negate = p.startswith("^", j)
        if negate:
            j += 1
        items: list[str] = []
        first = True
        while True:
            if j >= self.n:
                raise _Refused("missing closing ] in character class")
            if p[j] == "]" and not first:
                break
            first = False
            atom, j, is_set = self.class_atom(j)
            if not is_set and p.startswith("-", j) and j + 1 < self.n and p[j + 1] != "]":
                high, j, high_is_set = self.class_atom(j + 1)
                if high_is_set:
                    raise _Refused("invalid character class range")
                items.append(f"{atom}-{high}")
            else:
                items.append(atom)
        self.out.append("[" + ("^" if negate else "") + "".join(items) + "]")
        return j + 1

    def class_atom(self, j: int) -> tuple[str, int, bool]:
        """One member of a class: (Python text, next index, is it a set)."""
        p, ch = self.p, self.p[j]
        if p.startswith("[:", j):
            close = p.find(":]", j + 2)
            if close > 0:
                name = p[j + 2 : close]
                if name.startswith("^"):
                    raise _Refused(
                        f"negated POSIX classes like [:{name}:] are not supported by tocsin"
                    )
                if name not in _POSIX_CLASSES:
                    raise _Refused(f"invalid character class range [:{name}:]")
                return _POSIX_CLASSES[name], close + 2, True
        if ch != "\\":
            return ("\\" + ch if ch in _CLASS_SPECIAL else ch), j + 1, False
        esc = self.escaped(j)
        if esc == "Q":
            literal, end = self.quoted(j)
            return "".join("\\" + c if c in _CLASS_SPECIAL else c for c in literal), end, True
        if esc in "dsw":
            return _PERL_CLASSES[esc], j + 2, True
        if esc in "DSW":
            return p[j : j + 2], j + 2, True
        if esc in "pP":
            raise _Refused(f"the Go escape \\{esc} (Unicode classes) is not supported by tocsin")
        if esc.isalpha() and esc not in "afnrtvx":
            raise _Refused(f"the escape \\{esc} is not valid in a character class")
        if esc == "x":
            if p.startswith("{", j + 2):
                text, end = self.wide_hex(j)
                return text, end, False
            return p[j : j + 4], j + 4, False
        if esc.isdigit():
            k = j + 1
            while k < self.n and k < j + 4 and p[k] in "01234567":
                k += 1
            return p[j:k], k, False
        return p[j : j + 2], j + 2, False


def _translate(pattern: str) -> tuple[str, str | None]:
    try:
        return _Translator(pattern).run(), None
    except _Refused as refused:
        return "", refused.reason


def go_regex_problem(pattern: str) -> str | None:
    """Why `pattern` is not a Go regex tocsin can run with Go's meaning, if so.

    Only what the translation cannot carry over is reported; plain syntax
    errors (an unclosed group...) come out of `compile_go_regex`.
    """
    return _translate(pattern)[1]


def go_to_python_regex(pattern: str) -> str:
    """The Python `re` spelling of a Go (RE2) regex; GoRegexError if refused."""
    translated, problem = _translate(pattern)
    if problem is not None:
        raise GoRegexError(pattern, problem)
    return translated


@functools.lru_cache(maxsize=1024)
def compile_go_regex(
    pattern: str, *, anchored: bool = False, dotall: bool = False
) -> re.Pattern[str]:
    """Compile a Go regex; GoRegexError (with Python's reason) if it does not.

    `anchored` matches the whole text, `(?:re)\\Z` with `Pattern.match`, as
    label matchers do. `dotall` lets `.` match a newline, as Prometheus'
    label matchers and label_replace() do (Alertmanager's and templates' do
    not); an inner `(?-s)` still turns it off.
    """
    translated = go_to_python_regex(pattern)
    if anchored:
        translated = f"(?:{translated})\\Z"
    try:
        return re.compile(translated, re.DOTALL if dotall else 0)
    except re.error as exc:
        raise GoRegexError(pattern, exc.msg) from None
