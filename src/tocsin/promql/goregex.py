"""Go RE2 regular expressions in Python's re."""

from __future__ import annotations

import re

_FLAGS = re.compile(r"\(\?([imsU-]+)\)")


def go_regex(pattern: str) -> str:
    """Rewrite RE2 syntax that Python's re spells differently.

    RE2 lets `(?i)` appear anywhere and apply to the rest of the enclosing
    group; Python only accepts global flags at the very start. Each such flag
    group becomes a scoped `(?i:...)` closed where the enclosing group ends,
    so the pattern can still be wrapped for full anchoring.
    """
    if "(?" not in pattern:
        return pattern
    out: list[str] = []
    pending = [0]  # extra ")" to emit when the current group closes
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            # A leading "]" (or "^]") is a literal inside the class.
            if pattern.startswith("^]", i + 1):
                out.append("^]")
                i += 3
                continue
            if pattern.startswith("]", i + 1):
                out.append("]")
                i += 2
                continue
            i += 1
            continue
        m = _FLAGS.match(pattern, i)
        if m:
            flags = m.group(1).replace("U", "")
            if flags and flags != "-":
                out.append(f"(?{flags}:")
                pending[-1] += 1
            i = m.end()
            continue
        if ch == "(":
            pending.append(0)
        elif ch == ")" and len(pending) > 1:
            out.append(")" * pending.pop())
        out.append(ch)
        i += 1
    out.append(")" * pending[0])
    return "".join(out)
