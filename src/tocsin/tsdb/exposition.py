"""Parser for the Prometheus text exposition format (version 0.0.4).

Built for the scrape loop: `iter_samples` yields each sample's series text
(`name{labels}` exactly as written) without parsing its labels, so the
scraper can cache the parsed, relabelled series by that text, as Prometheus
does. `parse_series` turns the text into labels on a cache miss.
Measured against prometheus_client's parser in docs/bench/tsdb.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|\Z)', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPE = {"n": "\n", "\\": "\\", '"': '"'}


class ExpositionError(ValueError):
    """The scraped text is not valid exposition format; names the line."""

    def __init__(self, lineno: int, message: str) -> None:
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno


def iter_samples(text: str) -> Iterator[tuple[str, float, int | None]]:
    """Yield (series text, value, timestamp ms or None) for each sample line."""
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        brace = line.rfind("}")
        if brace >= 0:
            series = line[: brace + 1]
            rest = line[brace + 1 :].split()
        else:
            parts = line.split()
            series, rest = parts[0], parts[1:]
        if not 1 <= len(rest) <= 2:
            raise ExpositionError(lineno, f"expected 'metric value [timestamp]', got {line!r}")
        try:
            value = float(rest[0])
        except ValueError:
            raise ExpositionError(lineno, f"invalid sample value {rest[0]!r}") from None
        ts: int | None = None
        if len(rest) == 2:
            try:
                ts = int(rest[1])
            except ValueError:
                raise ExpositionError(lineno, f"invalid timestamp {rest[1]!r}") from None
        yield series, value, ts


def parse_series(series: str) -> dict[str, str]:
    """Labels (with `__name__`) of a series text such as `up{job="x"}`."""
    brace = series.find("{")
    name = series if brace < 0 else series[:brace].strip()
    if not _NAME.match(name):
        raise ExpositionError(0, f"invalid metric name {name!r}")
    labels = {"__name__": name}
    if brace < 0:
        return labels
    if not series.endswith("}"):
        raise ExpositionError(0, f"unterminated label set in {series!r}")
    body = series[brace + 1 : -1]
    pos = 0
    while pos < len(body):
        if not body[pos:].strip():
            break
        m = _LABEL.match(body, pos)
        if m is None:
            raise ExpositionError(0, f"invalid label set in {series!r}")
        name, value = m.group(1), m.group(2)
        if "\\" in value:
            value = _ESCAPE.sub(lambda e: _UNESCAPE.get(e.group(1), "\\" + e.group(1)), value)
        if name in labels:
            raise ExpositionError(0, f"duplicate label {name!r} in {series!r}")
        labels[name] = value
        pos = m.end()
    return labels


def parse_text(text: str) -> list[tuple[dict[str, str], float, int | None]]:
    """Every sample with its labels parsed; convenient for tests and tools."""
    out = []
    for series, value, ts in iter_samples(text):
        try:
            labels = parse_series(series)
        except ExpositionError as exc:
            raise ExpositionError(0, str(exc)) from None
        out.append((labels, value, ts))
    return out
