"""Just enough native histograms for promtool rule tests.

tocsin's engine does not evaluate native histograms. Rule unit tests may still
load histogram input series (`{{schema:1 count:2 buckets:[1 1]}}`) and expect
them back from a plain selector. This module parses promqltest histogram
literals, stores them beside the float store, answers plain instant selectors
over them, and prints them as Prometheus's `TestExpression()` does, so
expected and actual values compare by their canonical text. Any other use of
a histogram series in a query fails with UnsupportedFeature.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import promql_parser as pp

from tocsin.errors import QueryError
from tocsin.promql.engine import Engine
from tocsin.promql.engine import parse as parse_promql
from tocsin.tsdb.types import LabelMatcher

_HINTS = {"unknown", "reset", "not_reset", "gauge"}


class HistogramParseError(ValueError):
    """A histogram literal is malformed."""


@dataclass
class Hist:
    schema: int = 0
    count: float = 0.0
    sum: float = 0.0
    zero_count: float = 0.0
    zero_threshold: float = 0.0
    pos: dict[int, float] = field(default_factory=dict)  # bucket index -> count
    neg: dict[int, float] = field(default_factory=dict)
    hint: str = "unknown"

    def __add__(self, other: Hist) -> Hist:
        if other.schema != self.schema:
            raise HistogramParseError("cannot add histograms of different schemas")
        return Hist(
            self.schema,
            self.count + other.count,
            self.sum + other.sum,
            self.zero_count + other.zero_count,
            max(self.zero_threshold, other.zero_threshold),
            _add(self.pos, other.pos),
            _add(self.neg, other.neg),
            self.hint,
        )

    def times(self, n: int) -> Hist:
        return Hist(
            self.schema,
            self.count * n,
            self.sum * n,
            self.zero_count * n,
            self.zero_threshold,
            {k: v * n for k, v in self.pos.items()},
            {k: v * n for k, v in self.neg.items()},
            self.hint,
        )

    def is_reset_after(self, prev: Hist) -> bool:
        if self.schema != prev.schema or self.zero_threshold != prev.zero_threshold:
            return True
        if self.count < prev.count or self.zero_count < prev.zero_count:
            return True
        return any(self.pos.get(k, 0.0) < v for k, v in prev.pos.items()) or any(
            self.neg.get(k, 0.0) < v for k, v in prev.neg.items()
        )

    def test_expression(self) -> str:
        parts = []
        if self.schema:
            parts.append(f"schema:{self.schema}")
        for key, v in (
            ("count", self.count),
            ("sum", self.sum),
            ("z_bucket", self.zero_count),
            ("z_bucket_w", self.zero_threshold),
        ):
            if v != 0:
                parts.append(f"{key}:{go_g(v)}")
        if self.hint != "unknown":
            parts.append(f"counter_reset_hint:{self.hint}")
        for buckets, bkey, okey in (
            (self.pos, "buckets", "offset"),
            (self.neg, "n_buckets", "n_offset"),
        ):
            offset, counts = _compact(buckets)
            if counts:
                if offset:
                    parts.append(f"{okey}:{offset}")
                parts.append(f"{bkey}:[{' '.join(go_g(c) for c in counts)}]")
        return "{{" + " ".join(parts) + "}}"


def _add(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + v
    return out


def _compact(buckets: dict[int, float]) -> tuple[int, list[float]]:
    used = sorted(k for k, v in buckets.items() if v != 0)
    if not used:
        return 0, []
    return used[0], [buckets.get(k, 0.0) for k in range(used[0], used[-1] + 1)]


def go_g(v: float) -> str:
    """Go's fmt %g (shortest representation) for a float."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    d = Decimal(repr(v))
    exp = d.adjusted()
    if exp < -4 or exp >= 21:
        digits = d.as_tuple().digits
        mant = str(digits[0]) + (
            "." + "".join(map(str, digits[1:])).rstrip("0") if len(digits) > 1 else ""
        )
        mant = mant.rstrip(".")
        sign = "-" if v < 0 else ""
        return f"{sign}{mant}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_ITEM = re.compile(r"(\w+):(\[[^\]]*\]|\S+)")


def parse_literal(text: str) -> Hist:
    """`{{schema:1 count:3 buckets:[1 2] offset:-1}}` -> Hist."""
    s = text.strip()
    if not (s.startswith("{{") and s.endswith("}}")):
        raise HistogramParseError(f"not a histogram literal: {text!r}")
    body = s[2:-2]
    h = Hist()
    pos_b: list[float] = []
    neg_b: list[float] = []
    pos_off = neg_off = 0
    rest = _ITEM.sub("", body).strip()
    if rest:
        raise HistogramParseError(f"unexpected {rest!r} in histogram literal {text!r}")
    try:
        for key, val in _ITEM.findall(body):
            if key == "schema":
                h.schema = int(val)
            elif key in ("count", "sum", "z_bucket", "z_bucket_w"):
                attr = {
                    "count": "count",
                    "sum": "sum",
                    "z_bucket": "zero_count",
                    "z_bucket_w": "zero_threshold",
                }[key]
                setattr(h, attr, float(val))
            elif key == "buckets":
                pos_b = [float(x) for x in val.strip("[]").split()]
            elif key == "n_buckets":
                neg_b = [float(x) for x in val.strip("[]").split()]
            elif key == "offset":
                pos_off = int(val)
            elif key == "n_offset":
                neg_off = int(val)
            elif key == "counter_reset_hint":
                if val not in _HINTS:
                    raise HistogramParseError(f"invalid counter_reset_hint {val!r}")
                h.hint = val
            else:
                raise HistogramParseError(
                    f"unknown histogram field {key!r} (custom buckets are not supported)"
                )
    except ValueError as exc:
        raise HistogramParseError(f"invalid histogram literal {text!r}: {exc}") from None
    h.pos = {pos_off + i: c for i, c in enumerate(pos_b)}
    h.neg = {neg_off + i: c for i, c in enumerate(neg_b)}
    return h


_SERIES_TOKEN = re.compile(r"^(\{\{.*?\}\})(?:([+-])(\{\{.*\}\}))?x(\d+)$")


def expand(tokens: list[str]) -> list[Hist | None]:
    """Expand value notation of a histogram series: `{{..}}`, `{{a}}x2`, `{{a}}+{{b}}x2`, `_`."""
    out: list[Hist | None] = []
    for tok in tokens:
        if tok == "_":
            out.append(None)
            continue
        if tok.startswith("_x"):
            out.extend([None] * int(tok[2:]))
            continue
        m = _SERIES_TOKEN.match(tok)
        if m:
            a = parse_literal(m.group(1))
            n = int(m.group(4))
            if m.group(3):
                b = parse_literal(m.group(3))
                if m.group(2) == "-":
                    b = b.times(-1)
                out.extend(a + b.times(i) if i else a for i in range(n + 1))
            else:
                out.extend(replace(a) for _ in range(n + 1))
            continue
        if tok.startswith("{{"):
            out.append(parse_literal(tok))
            continue
        raise HistogramParseError(f"float value {tok!r} in a histogram series is not supported")
    return out


@dataclass
class Answer:
    samples: list[tuple[dict[str, str], Hist]]


class HistogramStore:
    """Histogram series of a rule test, answering plain instant selectors."""

    def __init__(self) -> None:
        self._series: list[tuple[dict[str, str], list[tuple[int, Hist]]]] = []

    def append(self, labels: dict[str, str], t_ms: int, h: Hist) -> None:
        points = next((pts for lab, pts in self._series if lab == labels), None)
        if points is None:
            points = []
            self._series.append((dict(labels), points))
        if points:
            prev = points[-1][1]
            if h.hint in ("unknown", "not_reset", "reset"):
                h = replace(h, hint="reset" if h.is_reset_after(prev) else "not_reset")
        elif h.hint != "gauge":
            h = replace(h, hint="unknown")
        points.append((t_ms, h))

    def answer(self, expr: str, t_ms: int, lookback_ms: int) -> Answer | None:
        """Samples for `expr` if it is a plain selector over histogram series, else None."""
        if not self._series:
            return None
        try:
            node: Any = parse_promql(expr)
        except QueryError:
            return None
        if (
            not isinstance(node, pp.VectorSelector)
            or node.offset is not None
            or node.at is not None
        ):
            return None
        matchers: list[LabelMatcher] = Engine().matchers(node)
        out = []
        for labels, points in self._series:
            if not all(m.matches(labels.get(m.name, "")) for m in matchers):
                continue
            latest = None
            for t, h in points:
                if t > t_ms:
                    break
                latest = (t, h)
            if latest is not None and latest[0] > t_ms - lookback_ms:
                out.append((labels, latest[1]))
        return Answer(out) if out else None
