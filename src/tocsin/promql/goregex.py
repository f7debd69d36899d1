"""Go RE2 regular expressions in Python's re."""

from __future__ import annotations

import re

_LEADING_FLAGS = re.compile(r"^\(\?([imsU]+)\)")


def go_regex(pattern: str) -> str:
    """Rewrite RE2 syntax that Python's re spells differently.

    A leading `(?i)` becomes the scoped `(?i:...)`, so the pattern can still be
    wrapped for full anchoring.
    """
    m = _LEADING_FLAGS.match(pattern)
    if m:
        flags = m.group(1).replace("U", "")
        rest = pattern[m.end() :]
        return f"(?{flags}:{rest})" if flags else rest
    return pattern
