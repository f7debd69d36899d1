"""Durations as Alertmanager writes them.

Route timers and `resolve_timeout` use Prometheus' format (`1h30m`, `1d`,
`2w`, no fractions); receiver `timeout` fields are Go durations (`1.5s`,
`300ms`). Both become float seconds.
"""

from __future__ import annotations

import re

_PROM = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?\Z"
)
_PROM_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)

_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_prom_duration(text: str) -> float:
    """`30s`, `5m`, `1h30m`, `1d`, `1w`, `1y`, `0` -> seconds. Raises ValueError."""
    if text == "0":
        return 0.0
    m = _PROM.match(text)
    if not text or m is None:
        raise ValueError(
            f"not a valid duration string: {text!r} (expected e.g. 30s, 5m, 1h30m, 1d)"
        )
    return float(sum(int(g) * unit for g, unit in zip(m.groups(), _PROM_UNITS, strict=True) if g))


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration: `1.5s`, `300ms`, `1h2m` -> seconds. Raises ValueError."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _GO_PART.match(s, pos)
        if m is None:
            break
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"not a valid duration: {text!r} (expected e.g. 10s, 1m30s, 500ms)")
    return sign * total


def format_prom_duration(seconds: float) -> str:
    """Seconds -> the shortest Prometheus duration string (`4h`, `1m30s`)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (
        ("y", 365 * 86400000),
        ("w", 7 * 86400000),
        ("d", 86400000),
        ("h", 3600000),
        ("m", 60000),
        ("s", 1000),
        ("ms", 1),
    ):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)
