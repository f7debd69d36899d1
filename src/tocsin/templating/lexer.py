"""Tokenizer for Go text/template syntax.

Splits template text into text runs and the tokens inside ``{{ }}``
actions, applying the ``{{-`` / ``-}}`` trim markers and dropping
comments on the way. Errors name the offending position.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto


class T(Enum):
    """Token kinds."""

    TEXT = auto()
    LEFT = auto()  # {{
    RIGHT = auto()  # }}
    COMMENT = auto()
    SPACE = auto()
    IDENT = auto()  # function name
    KEYWORD = auto()  # if, range, end, ...
    FIELD = auto()  # .Name
    VARIABLE = auto()  # $x or $
    DOT = auto()
    NUMBER = auto()
    CHAR = auto()  # 'a' character constant
    STRING = auto()  # "..."
    RAW_STRING = auto()  # `...`
    BOOL = auto()
    NIL = auto()
    PIPE = auto()
    LPAREN = auto()
    RPAREN = auto()
    DECLARE = auto()  # :=
    ASSIGN = auto()  # =
    COMMA = auto()
    OTHER = auto()  # any other printable ASCII character
    EOF = auto()


KEYWORDS = frozenset(
    {"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"}
)

_SPACE = " \t\r\n"
_LEFT = "{{"
_RIGHT = "}}"


@dataclass(slots=True)
class Token:
    kind: T
    val: str
    pos: int  # offset into the template text


class LexError(Exception):
    """Raised by the lexer; the parser turns it into a TemplateParseError."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


def lex(text: str) -> list[Token]:
    """Tokenize a whole template. Raises LexError."""
    return _Lexer(text).run()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []
        self.paren_depth = 0

    def run(self) -> list[Token]:
        text = self.text
        pos = 0
        trim_next = False
        n = len(text)
        while True:
            start = text.find(_LEFT, pos)
            end = n if start < 0 else start
            chunk = text[pos:end]
            if trim_next:
                stripped = chunk.lstrip(_SPACE)
                pos += len(chunk) - len(stripped)
                chunk = stripped
                trim_next = False
            if start < 0:
                if chunk:
                    self.tokens.append(Token(T.TEXT, chunk, pos))
                self.tokens.append(Token(T.EOF, "", n))
                return self.tokens
            # A left trim marker is "{{-" followed by a space character.
            left_trim = (
                start + 3 < n + 1
                and text.startswith("-", start + 2)
                and start + 3 < n
                and text[start + 3] in _SPACE
            )
            if left_trim:
                chunk = chunk.rstrip(_SPACE)
            if chunk:
                self.tokens.append(Token(T.TEXT, chunk, pos))
            self.tokens.append(Token(T.LEFT, _LEFT, start))
            inner = start + 2 + (2 if left_trim else 0)
            if text.startswith("/*", inner):
                pos, trim_next = self._comment(start, inner)
                continue
            pos, trim_next = self._action(inner)

    def _at_right(self, i: int) -> tuple[bool, bool]:
        """(is a right delimiter here, with trim marker)."""
        text = self.text
        if text.startswith(_RIGHT, i):
            return True, False
        if i + 1 < len(text) and text[i] in _SPACE and text.startswith("-" + _RIGHT, i + 1):
            return True, True
        return False, False

    def _comment(self, left: int, i: int) -> tuple[int, bool]:
        text = self.text
        close = text.find("*/", i + 2)
        if close < 0:
            raise LexError("unclosed comment", left)
        after = close + 2
        is_right, trim = self._at_right(after)
        if not is_right:
            raise LexError("comment ends before closing delimiter", left)
        # The comment is dropped; keep a marker so "{{/* */}}" parses as nothing.
        self.tokens.pop()  # the LEFT token
        return after + (4 if trim else 2), trim

    def _action(self, i: int) -> tuple[int, bool]:
        text = self.text
        n = len(text)
        toks = self.tokens
        self.paren_depth = 0
        while True:
            is_right, trim = self._at_right(i)
            if is_right:
                if self.paren_depth:
                    raise LexError("unclosed left paren", i)
                if trim:
                    toks.append(Token(T.SPACE, text[i], i))
                    i += 1
                toks.append(Token(T.RIGHT, _RIGHT, i + (1 if trim else 0)))
                return i + (3 if trim else 2), trim
            if i >= n:
                raise LexError("unclosed action", i)
            ch = text[i]
            if ch in _SPACE:
                j = i
                while j < n and text[j] in _SPACE:
                    is_right, trim = self._at_right(j)
                    if is_right and trim:
                        break
                    j += 1
                if j == i:  # a lone space before "-}}" is the trim marker
                    j = i + 1
                toks.append(Token(T.SPACE, text[i:j], i))
                i = j
            elif ch == "=":
                toks.append(Token(T.ASSIGN, "=", i))
                i += 1
            elif ch == ":":
                if not text.startswith(":=", i):
                    raise LexError("expected :=", i)
                toks.append(Token(T.DECLARE, ":=", i))
                i += 2
            elif ch == "|":
                toks.append(Token(T.PIPE, "|", i))
                i += 1
            elif ch == '"':
                i = self._quote(i)
            elif ch == "`":
                close = text.find("`", i + 1)
                if close < 0:
                    raise LexError("unterminated raw quoted string", i)
                toks.append(Token(T.RAW_STRING, text[i : close + 1], i))
                i = close + 1
            elif ch == "'":
                i = self._char(i)
            elif ch == "$":
                j = i + 1
                while j < n and _is_alnum(text[j]):
                    j += 1
                toks.append(Token(T.VARIABLE, text[i:j], i))
                i = self._check_terminator(j)
            elif ch == ".":
                if i + 1 < n and text[i + 1].isdigit():
                    i = self._number(i)
                    continue
                j = i + 1
                while j < n and _is_alnum(text[j]):
                    j += 1
                if j == i + 1:
                    toks.append(Token(T.DOT, ".", i))
                    i = self._check_terminator(j)
                else:
                    toks.append(Token(T.FIELD, text[i:j], i))
                    i = self._check_terminator(j)
            elif ch in "+-" or ch.isdigit():
                i = self._number(i)
            elif ch == "_" or ch.isalpha():
                j = i
                while j < n and _is_alnum(text[j]):
                    j += 1
                word = text[i:j]
                if word in KEYWORDS:
                    kind = T.KEYWORD
                elif word in ("true", "false"):
                    kind = T.BOOL
                elif word == "nil":
                    kind = T.NIL
                else:
                    kind = T.IDENT
                toks.append(Token(kind, word, i))
                i = self._check_terminator(j)
            elif ch == "(":
                self.paren_depth += 1
                toks.append(Token(T.LPAREN, "(", i))
                i += 1
            elif ch == ")":
                self.paren_depth -= 1
                if self.paren_depth < 0:
                    raise LexError("unexpected right paren", i)
                toks.append(Token(T.RPAREN, ")", i))
                i += 1
            elif ch == ",":
                toks.append(Token(T.COMMA, ",", i))
                i += 1
            elif ord(ch) < 0x80 and ch.isprintable():
                toks.append(Token(T.OTHER, ch, i))
                i += 1
            else:
                raise LexError(f"unrecognized character in action: U+{ord(ch):04X}", i)

    def _check_terminator(self, j: int) -> int:
        text = self.text
        if j >= len(text):
            return j
        ch = text[j]
        if ch in _SPACE or ch in ".,|:()" or self._at_right(j)[0]:
            return j
        raise LexError(f"bad character U+{ord(ch):04X} '{ch}'", j)

    def _quote(self, i: int) -> int:
        text = self.text
        j = i + 1
        n = len(text)
        while True:
            if j >= n or text[j] == "\n":
                raise LexError("unterminated quoted string", i)
            ch = text[j]
            if ch == "\\":
                j += 2
                continue
            j += 1
            if ch == '"':
                break
        self.tokens.append(Token(T.STRING, text[i:j], i))
        return j

    def _char(self, i: int) -> int:
        text = self.text
        j = i + 1
        n = len(text)
        while True:
            if j >= n or text[j] == "\n":
                raise LexError("unterminated character constant", i)
            ch = text[j]
            if ch == "\\":
                j += 2
                continue
            j += 1
            if ch == "'":
                break
        self.tokens.append(Token(T.CHAR, text[i:j], i))
        return j

    def _number(self, i: int) -> int:
        text = self.text
        n = len(text)
        j = i
        if j < n and text[j] in "+-":
            j += 1
        digits = "0123456789_"
        exp_chars = "eE"
        if text.startswith(("0x", "0X"), j):
            j += 2
            digits = "0123456789abcdefABCDEF_"
            exp_chars = "pP"
        elif text.startswith(("0o", "0O"), j):
            j += 2
            digits = "01234567_"
        elif text.startswith(("0b", "0B"), j):
            j += 2
            digits = "01_"
        while j < n and text[j] in digits:
            j += 1
        if j < n and text[j] == ".":
            j += 1
            while j < n and text[j] in digits:
                j += 1
        if j < n and text[j] in exp_chars:
            j += 1
            if j < n and text[j] in "+-":
                j += 1
            while j < n and text[j] in "0123456789_":
                j += 1
        if j < n and text[j] == "i":
            j += 1
        if j < n and _is_alnum(text[j]):
            k = j
            while k < n and _is_alnum(text[k]):
                k += 1
            raise LexError(f'bad number syntax: "{text[i:k]}"', i)
        self.tokens.append(Token(T.NUMBER, text[i:j], i))
        return j
