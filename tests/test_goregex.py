"""Go (RE2) regexes on Python's re: translation, refusals, compiled matching."""

from __future__ import annotations

import pytest

from tocsin.goregex import GoRegexError, compile_go_regex, go_regex_problem, go_to_python_regex

W = "[0-9A-Za-z_]"


@pytest.mark.parametrize(
    ("go", "python"),
    [
        # Flags anywhere: scoped to the rest of the enclosing group, across "|".
        ("(?i)foo", "(?i:foo)"),
        ("(?i)a|b", "(?i:a)|(?i:b)"),
        ("x(?i-s)y", "x(?i-s:y)"),
        ("(a(?i)b)c", "(a(?i:b))c"),
        ("(?i:x)", "(?i:x)"),
        ("(?:x)", "(?:x)"),
        # End of text.
        (r"a\z", r"a\Z"),
        ("a$", r"a\Z"),
        ("(?m)a$", "(?m:a$)"),
        ("(?m:a$)b$", r"(?m:a$)b\Z"),
        ("(?m)a(?-m)$", r"(?m:a(?-m:\Z))"),
        # ASCII Perl classes and word boundaries.
        (r"\d+\.\d+", r"[0-9]+\.[0-9]+"),
        (r"\S\W", r"[^\t\n\f\r ][^0-9A-Za-z_]"),
        (r"[\d_]", "[0-9_]"),
        (r"\b", f"(?:(?<={W})(?!{W})|(?<!{W})(?={W}))"),
        # Spellings Python lacks.
        ("(?<n>x)", "(?P<n>x)"),
        ("(?P<n>x)", "(?P<n>x)"),
        (r"\Qa.b\E*", r"a\.b*"),
        (r"[\Q]-\E]", r"[\]\-]"),
        (r"\Qa.b", r"a\.b"),  # an unclosed \Q quotes to the end
        (r"\x{263a}", r"\U0000263a"),
        ("[[:alpha:]]+", "[A-Za-z]+"),
        ("[^[:digit:]x]", "[^0-9x]"),
        ("a{,3}", r"a\{,3}"),
        ("a{2,3}?", "a{2,3}?"),
        # Character-class edge cases: what Go reads as plain members.
        ("[]a]", r"[\]a]"),
        ("[^]a]", r"[^\]a]"),
        ("[(?i)]", "[(?i)]"),
        ("[a[b]", r"[a\[b]"),
        ("[a&&b]", r"[a\&\&b]"),
        ("[+--]", r"[+-\-]"),
        ("[--a]", r"[\--a]"),
        (r"\[:alpha:\]", r"\[:alpha:\]"),
        ("[a-z]", "[a-z]"),
    ],
)
def test_translation(go: str, python: str) -> None:
    assert go_regex_problem(go) is None
    assert go_to_python_regex(go) == python


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"\pL", "Unicode classes"),
        (r"\PL", "Unicode classes"),
        (r"a\Z", r"\Z"),
        ("(?=a)b", "lookaround"),
        ("(?<!a)b", "lookaround"),
        (r"(a)\1", "backreference"),
        ("(?P<n>a)(?P=n)", "backreference"),
        ("(?U)a+", "ungreedy"),
        ("(?x)a b", "flags"),
        ("(?#note)a", "flags"),
        ("(?>a)", "flags"),
        ("(?i-)a", "flags"),
        ("(?i", "missing closing )"),
        ("a++", "possessive"),
        ("a{2}+", "possessive"),
        ("a{1001}", "repeat count"),
        ("[[:^alpha:]]", "negated POSIX"),
        ("[[:nope:]]", "[:nope:]"),
        (r"[\b]", "character class"),
        ("[a", "missing closing ]"),
        ("a\\", "trailing backslash"),
        (r"\x{110000}", "invalid escape"),
    ],
)
def test_refused_with_a_reason(pattern: str, problem: str) -> None:
    assert problem in (go_regex_problem(pattern) or "")
    with pytest.raises(GoRegexError) as err:
        go_to_python_regex(pattern)
    assert problem in err.value.reason
    assert repr(pattern) in str(err.value)


def test_syntax_errors_name_the_pattern_and_python_reason() -> None:
    assert go_regex_problem("(") is None  # a plain syntax error, left to compile
    with pytest.raises(GoRegexError) as err:
        compile_go_regex("(")
    assert err.value.pattern == "("
    assert "missing ), unterminated subpattern" in err.value.reason
    assert "'('" in str(err.value)


# (pattern, text, hit) with the whole text matched (label matchers).
ANCHORED = [
    ("a|b", "ab", False),
    ("a.*", "abc", True),
    ("a", "ab", False),
    ("x(?i)crit|warn", "WARN", True),
    ("x(?i)crit|warn", "XCRIT", False),
    ("x(?i)crit|warn", "xCRIT", True),
    ("(a(?i)b)c", "aBC", False),
    (r"ab\z", "ab", True),
    ("a$", "a", True),
    (r"\d+", "123", True),
    (r"\d+", "\u0663", False),  # Go's \d is ASCII only
    (r"\w+", "é", False),
    ("[[:upper:]]+", "ABC", True),
    (r"\Q1.5\E", "1x5", False),
    (r"\Q1.5\E", "1.5", True),
    ("a{,2}", "a{,2}", True),
    (r"\bfoo\b", "foo", True),
]


@pytest.mark.parametrize(("pattern", "text", "hit"), ANCHORED)
def test_anchored_matching(pattern: str, text: str, hit: bool) -> None:
    regex = compile_go_regex(pattern, anchored=True)
    assert (regex.match(text) is not None) is hit


@pytest.mark.parametrize(
    ("pattern", "dotall", "text", "hit"),
    [
        ("a.b", False, "a\nb", False),  # Alertmanager: '.' is not a newline
        ("(?s)a.b", False, "a\nb", True),
        ("a.b", True, "a\nb", True),  # Prometheus: matchers are (?s)
        ("(?-s:a.b)", True, "a\nb", False),
    ],
)
def test_dotall_variants(pattern: str, dotall: bool, text: str, hit: bool) -> None:
    regex = compile_go_regex(pattern, anchored=True, dotall=dotall)
    assert (regex.match(text) is not None) is hit


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ("a$", "a\n", False),  # Python's bare $ would match before the newline
        ("(?m)a$", "a\nb", True),
        (r"\bcat\b", "a cat!", True),
        (r"\bcat\b", "écat", True),  # é is not an ASCII word character
        (r"\Bcat", "écat", False),
        ("b", "abc", True),
    ],
)
def test_unanchored_search(pattern: str, text: str, hit: bool) -> None:
    assert (compile_go_regex(pattern).search(text) is not None) is hit
