"""Runner for Prometheus' promqltest script language (`*.test` files).

Commands: `load <step>` (+ series lines), `load_with_nhcb`, `clear`,
`eval instant at <t> <query>` and `eval range from <t0> to <t1> step <s>
<query>` followed by `expect ...` lines and expected results.

tocsin produces only some of Prometheus' warning/info annotations. So a bare
`expect warn`/`expect info` checks the value only; `expect ... msg:/regex:`
passes when tocsin produced a matching annotation, fails when it produced
others of that kind but none matching, and is reported as skipped (with the
reason) when it produced none; `expect no_warn`/`no_info` fail on any.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tocsin.errors import QueryError, UnsupportedFeature
from tocsin.promql.engine import Engine
from tocsin.promql.mathutil import almost_equal
from tocsin.promql.memstore import MemStore
from tocsin.promql.values import (
    MatrixResult,
    QueryResult,
    ScalarResult,
    StringResult,
    VectorResult,
)
from tocsin.tsdb.types import STALE_NAN

EPSILON = 1e-6
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"

_DUR = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_NUM = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|Inf|inf|NaN|nan|0x[0-9a-fA-F]+)"
_EXPAND = re.compile(rf"^(?P<a>{_NUM})(?:(?P<op>[-+])(?P<b>{_NUM}))?x(?P<n>\d+)$")


class ScriptError(ValueError):
    """The test script itself is malformed."""


def parse_duration_ms(text: str) -> int:
    text = text.strip()
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DUR.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ScriptError(f"invalid duration {text!r}")
    return round(total)


def _number(tok: str) -> float:
    if tok.lower().lstrip("+-").startswith("0x"):
        sign = -1 if tok.startswith("-") else 1
        return sign * float(int(tok.lstrip("+-"), 16))
    return float(tok)


# A sample slot: float value, STALE marker, or None for "missing".
Slot = float | None


def parse_values(tokens: list[str]) -> tuple[list[Slot], bool]:
    """Expand value notation. Returns (slots, has_native_histogram)."""
    out: list[Slot] = []
    native = False
    for tok in tokens:
        if tok.startswith("{{"):
            native = True
            out.append(None)
            continue
        if tok == "_":
            out.append(None)
            continue
        if tok == "stale":
            out.append(STALE_NAN)
            continue
        if tok.startswith("_x"):
            out.extend([None] * int(tok[2:]))
            continue
        if tok.startswith("stalex"):
            out.extend([STALE_NAN] * (int(tok[6:]) + 1))
            continue
        m = _EXPAND.match(tok)
        if m:
            a = _number(m.group("a"))
            b = _number(m.group("b")) if m.group("b") else 0.0
            if m.group("op") == "-":
                b = -b
            out.extend(a + i * b for i in range(int(m.group("n")) + 1))
            continue
        try:
            out.append(_number(tok))
        except ValueError as e:
            raise ScriptError(f"invalid value {tok!r}") from e
    return out, native


def _split_value_tokens(text: str) -> list[str]:
    """Split on whitespace, keeping {{...}} histogram literals whole."""
    tokens: list[str] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        if text.startswith("{{", i):
            depth, j = 0, i
            while j < len(text):
                if text.startswith("{{", j):
                    depth += 1
                    j += 2
                elif text.startswith("}}", j):
                    depth -= 1
                    j += 2
                elif depth == 0 and text[j].isspace():
                    break
                else:
                    j += 1
            if depth:
                raise ScriptError("unterminated native histogram literal")
            tokens.append(text[i:j])
            i = j
            continue
        j = i
        while j < len(text) and not text[j].isspace():
            j += 1
        tokens.append(text[i:j])
        i = j
    return tokens


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    j = i + 1
    buf: list[str] = []
    while j < len(text):
        ch = text[j]
        if ch == "\\" and quote != "`":
            nxt = text[j + 1]
            buf.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(nxt, "\\" + nxt))
            j += 2
            continue
        if ch == quote:
            return "".join(buf), j + 1
        buf.append(ch)
        j += 1
    raise ScriptError(f"unterminated string in {text!r}")


def parse_series(text: str) -> tuple[dict[str, str], str]:
    """`name{a="b"} rest` -> (labels, rest)."""
    text = text.strip()
    labels: dict[str, str] = {}
    m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:.]*", text)
    i = 0
    if m and not text.startswith("{"):
        labels["__name__"] = m.group(0)
        i = m.end()
    if i < len(text) and text[i] == "{":
        i += 1
        while True:
            while i < len(text) and text[i] in " \t,":
                i += 1
            if i >= len(text):
                raise ScriptError(f"unterminated label set in {text!r}")
            if text[i] == "}":
                i += 1
                break
            if text[i] in "\"'`":
                name, i = _read_quoted(text, i)
            else:
                m2 = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*").match(text, i)
                if not m2:
                    raise ScriptError(f"bad label name in {text!r}")
                name, i = m2.group(0), m2.end()
            while i < len(text) and text[i] == " ":
                i += 1
            if i < len(text) and text[i] == "=":
                i += 1
                while i < len(text) and text[i] == " ":
                    i += 1
                value, i = _read_quoted(text, i)
                labels[name] = value
            else:
                labels["__name__"] = name
    return labels, text[i:]


@dataclass
class Expectation:
    fail: bool = False
    fail_msg: str | None = None
    fail_regex: str | None = None
    ordered: bool = False
    # (kind, "msg" | "regex", text) annotations that must be present
    annotations: list[tuple[str, str, str]] = field(default_factory=list)
    no_warn: bool = False
    no_info: bool = False
    string: str | None = None
    range_vector: tuple[int, int, int] | None = None


@dataclass
class CaseResult:
    file: str
    line: int
    query: str
    status: str
    message: str = ""


@dataclass
class _Eval:
    line: int
    query: str
    instant: bool
    t_ms: int = 0
    start_ms: int = 0
    end_ms: int = 0
    step_ms: int = 0
    expect: Expectation = field(default_factory=Expectation)
    scalar: float | None = None
    series: list[tuple[dict[str, str], list[Slot], int]] = field(default_factory=list)
    native_expected: bool = False


_EVAL = re.compile(
    r"^eval(?P<old>_fail|_warn|_info|_ordered)?\s+(?:instant\s+at\s+(?P<at>\S+)|range\s+from\s+"
    r"(?P<start>\S+)\s+to\s+(?P<end>\S+)\s+step\s+(?P<step>\S+))\s+(?P<q>.+)$"
)


class Runner:
    """Runs promqltest scripts against a fresh MemStore and the tocsin engine."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or Engine(lookback_delta=300.0)

    def run_file(self, path: str | Path) -> list[CaseResult]:
        path = Path(path)
        lines = path.read_text().splitlines()
        return list(self._run(str(path), lines))

    def _run(self, name: str, lines: list[str]) -> Iterator[CaseResult]:
        store = MemStore()
        i = 0
        n = len(lines)
        while i < n:
            raw = lines[i].strip()
            if not raw or raw.startswith("#"):
                i += 1
                continue
            body_start = i + 1
            j = body_start
            while j < n and raw != "clear" and _is_body(lines[j].strip()):
                j += 1
            body = [(k + 1, lines[k].strip()) for k in range(body_start, j)]
            if raw == "clear":
                store = MemStore()
            elif raw.startswith("load"):
                try:
                    self._load(store, raw, body)
                except ScriptError as e:
                    yield CaseResult(name, i + 1, raw, FAILED, f"cannot load: {e}")
            elif raw.startswith("eval"):
                yield self._eval(name, store, i + 1, raw, body)
            else:
                raise ScriptError(f"{name}:{i + 1}: unknown command {raw!r}")
            i = j

    def _load(self, store: MemStore, head: str, body: list[tuple[int, str]]) -> None:
        parts = head.split()
        with_nhcb = parts[0] == "load_with_nhcb"
        step = parse_duration_ms(parts[1])
        for _, line in body:
            labels, rest = parse_series(line)
            slots, native = parse_values(_split_value_tokens(rest))
            if native:
                store.add_unsupported(labels, "native histogram samples are not supported")
                continue
            if with_nhcb and labels.get("__name__", "").endswith("_bucket"):
                base = dict(labels)
                base["__name__"] = labels["__name__"][: -len("_bucket")]
                base.pop("le", None)
                store.add_unsupported(
                    {"__name__": base["__name__"]},
                    "custom-bucket native histograms (load_with_nhcb) are not supported",
                )
            for k, v in enumerate(slots):
                if v is not None:
                    store.append(labels, k * step, v)

    def _parse_eval(self, line_no: int, head: str, body: list[tuple[int, str]]) -> _Eval:
        m = _EVAL.match(head)
        if not m:
            raise ScriptError(f"line {line_no}: cannot parse {head!r}")
        ev = _Eval(line_no, m.group("q").strip(), instant=m.group("at") is not None)
        if ev.instant:
            ev.t_ms = parse_duration_ms(m.group("at"))
        else:
            ev.start_ms = parse_duration_ms(m.group("start"))
            ev.end_ms = parse_duration_ms(m.group("end"))
            ev.step_ms = parse_duration_ms(m.group("step"))
        old = m.group("old")
        exp = ev.expect
        if old == "_fail":
            exp.fail = True
        elif old == "_ordered":
            exp.ordered = True
        for k, line in body:
            if line.startswith("expect "):
                self._parse_expect(exp, line[len("expect ") :].strip())
                continue
            labels_part = line
            tokens = line.split()
            if len(tokens) == 1 and not tokens[0].startswith("{") and _is_number(tokens[0]):
                ev.scalar = _number(tokens[0])
                continue
            labels, rest = parse_series(labels_part)
            slots, native = parse_values(_split_value_tokens(rest))
            if native:
                ev.native_expected = True
            ev.series.append((labels, slots, k))
        return ev

    def _parse_expect(self, exp: Expectation, text: str) -> None:
        kind, _, rest = text.partition(" ")
        rest = rest.strip()
        if kind == "fail":
            exp.fail = True
            if rest.startswith("msg:"):
                exp.fail_msg = rest[4:].strip()
            elif rest.startswith("regex:"):
                exp.fail_regex = rest[6:].strip()
        elif kind in ("warn", "info"):
            if rest.startswith("msg:"):
                exp.annotations.append((kind, "msg", rest[4:].strip()))
            elif rest.startswith("regex:"):
                exp.annotations.append((kind, "regex", rest[6:].strip()))
        elif kind == "ordered":
            exp.ordered = True
        elif kind == "string":
            exp.string, _ = _read_quoted(rest, 0)
        elif kind == "range":
            m = re.match(r"vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)", rest)
            if not m:
                raise ScriptError(f"bad 'expect range vector': {text!r}")
            exp.range_vector = tuple(parse_duration_ms(g) for g in m.groups())  # type: ignore[assignment]
        elif kind == "no_warn":
            exp.no_warn = True
        elif kind == "no_info":
            exp.no_info = True
        else:
            raise ScriptError(f"unknown expectation {text!r}")

    def _eval(
        self, file: str, store: MemStore, line_no: int, head: str, body: list[tuple[int, str]]
    ) -> CaseResult:
        try:
            ev = self._parse_eval(line_no, head, body)
        except ScriptError as e:
            return CaseResult(file, line_no, head, FAILED, f"script error: {e}")
        exp = ev.expect
        if ev.native_expected:
            return CaseResult(
                file, line_no, ev.query, SKIPPED, "unsupported: expects native histogram samples"
            )
        try:
            if ev.instant:
                res: QueryResult = self.engine.instant_query(store, ev.query, ev.t_ms / 1000)
            else:
                res = self.engine.range_query(
                    store, ev.query, ev.start_ms / 1000, ev.end_ms / 1000, ev.step_ms / 1000
                )
        except UnsupportedFeature as e:
            return CaseResult(file, line_no, ev.query, SKIPPED, f"unsupported: {e}")
        except QueryError as e:
            if not exp.fail:
                return CaseResult(file, line_no, ev.query, FAILED, f"unexpected error: {e}")
            msg = str(e)
            if exp.fail_msg is not None and exp.fail_msg != msg:
                return CaseResult(
                    file,
                    line_no,
                    ev.query,
                    SKIPPED,
                    "failed as expected, but with another message: "
                    f"want {exp.fail_msg!r}, got {msg!r}",
                )
            if exp.fail_regex is not None and not re.search(exp.fail_regex, msg):
                return CaseResult(
                    file,
                    line_no,
                    ev.query,
                    SKIPPED,
                    f"failed as expected, but message does not match {exp.fail_regex!r}: {msg!r}",
                )
            return CaseResult(file, line_no, ev.query, PASSED)
        except Exception as e:  # an engine bug must not hide the other cases
            return CaseResult(
                file, line_no, ev.query, FAILED, f"internal error: {type(e).__name__}: {e}"
            )
        if exp.fail:
            return CaseResult(file, line_no, ev.query, FAILED, "expected an error, got a result")
        problem = self._compare(ev, res)
        if problem:
            return CaseResult(file, line_no, ev.query, FAILED, problem)
        status, message = _check_annotations(exp, res.warnings, res.infos)
        return CaseResult(file, line_no, ev.query, status, message)

    # comparison ------------------------------------------------------------
    def _compare(self, ev: _Eval, res: QueryResult) -> str | None:
        exp = ev.expect
        if exp.string is not None:
            if not isinstance(res, StringResult):
                return f"expected string {exp.string!r}, got {res.result_type}"
            return (
                None if res.value == exp.string else f"expected {exp.string!r}, got {res.value!r}"
            )
        if ev.scalar is not None:
            if not isinstance(res, ScalarResult):
                return f"expected scalar {ev.scalar}, got {res.result_type}"
            return (
                None
                if _feq(ev.scalar, res.value)
                else f"expected scalar {ev.scalar}, got {res.value}"
            )
        if isinstance(res, ScalarResult):
            if not ev.series:
                return f"expected no result, got scalar {res.value}"
            return f"expected vector, got scalar {res.value}"
        if isinstance(res, StringResult):
            return f"expected vector, got string {res.value!r}"
        if isinstance(res, VectorResult):
            if not ev.instant:
                return "range query returned a vector"
            return self._compare_vector(ev, res)
        if ev.instant and exp.range_vector is None and ev.series:
            return "expected instant vector, got range vector"
        return self._compare_matrix(ev, res)

    def _compare_vector(self, ev: _Eval, res: VectorResult) -> str | None:
        want = {_key(lbl): (slots, k) for lbl, slots, k in ev.series}
        got = [(_key(s.labels), s.value) for s in res.samples]
        if len(got) != len(want):
            return (
                f"expected {len(want)} samples, got {len(got)}:\n"
                f"    want: {_fmt_want(ev)}\n    got:  {_fmt_got_vector(res)}"
            )
        for pos, (key, value) in enumerate(got):
            if key not in want:
                return f"unexpected series {_fmt_key(key)} = {value}\n    want: {_fmt_want(ev)}"
            slots, _ = want[key]
            if len(slots) != 1 or slots[0] is None:
                return f"bad expectation for {_fmt_key(key)}"
            if not _feq(slots[0], value):
                return f"{_fmt_key(key)}: expected {slots[0]}, got {value}"
            if ev.expect.ordered and _key(ev.series[pos][0]) != key:
                want_key = _fmt_key(_key(ev.series[pos][0]))
                return f"order differs at position {pos}: expected {want_key}, got {_fmt_key(key)}"
        return None

    def _compare_matrix(self, ev: _Eval, res: MatrixResult) -> str | None:
        if ev.instant:
            if ev.expect.range_vector is None:
                start, step = 0, 1
            else:
                start, _, step = ev.expect.range_vector
        else:
            start, step = ev.start_ms, ev.step_ms
        want: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
        for lbl, slots, _ in ev.series:
            points = {start + i * step: v for i, v in enumerate(slots) if v is not None}
            want[_key(lbl)] = points
        want = {k: v for k, v in want.items() if v}
        got = {_key(s.labels): s for s in res.series}
        if set(got) != set(want):
            missing = [_fmt_key(k) for k in want if k not in got]
            extra = [_fmt_key(k) for k in got if k not in want]
            return f"series differ: missing {missing}, unexpected {extra}"
        for key, points in want.items():
            s = got[key]
            have = dict(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
            if set(have) != set(points):
                want_vals = [points[t] for t in sorted(points)]
                got_vals = [have[t] for t in sorted(have)]
                return (
                    f"{_fmt_key(key)}: timestamps differ: "
                    f"expected {sorted(points)}, got {sorted(have)}\n"
                    f"    want values {want_vals}\n    got values  {got_vals}"
                )
            for t, v in points.items():
                if not _feq(v, have[t]):
                    return f"{_fmt_key(key)} at {t / 1000}s: expected {v}, got {have[t]}"
        return None


_COMMAND = re.compile(
    r"^(load|load_with_nhcb|clear|eval|eval_fail|eval_warn|eval_info|eval_ordered)(\s|$)"
)


def _is_body(line: str) -> bool:
    return bool(line) and not line.startswith("#") and not _COMMAND.match(line)


def _check_annotations(exp: Expectation, warnings: list[str], infos: list[str]) -> tuple[str, str]:
    if exp.no_warn and warnings:
        return FAILED, f"unexpected warnings: {warnings}"
    if exp.no_info and infos:
        return FAILED, f"unexpected infos: {infos}"
    missing = []
    for kind, mode, text in exp.annotations:
        have = warnings if kind == "warn" else infos
        if mode == "msg":
            ok = text in have
        else:
            ok = any(re.search(text, h) for h in have)
        if ok:
            continue
        if have:
            return FAILED, f"expected {kind} {mode} {text!r}, got {have}"
        missing.append(f"{kind} {mode}: {text}")
    if missing:
        return SKIPPED, "value matches; annotation not produced by tocsin: " + "; ".join(missing)
    return PASSED, ""


def _is_number(tok: str) -> bool:
    try:
        _number(tok)
        return True
    except ValueError:
        return False


def _feq(want: float, got: float) -> bool:
    if math.isnan(want) and math.isnan(got):
        return True
    return almost_equal(want, got, EPSILON)


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _fmt_key(key: tuple[tuple[str, str], ...]) -> str:
    d = dict(key)
    name = d.pop("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in d.items())
    return f"{name}{{{inner}}}"


def _fmt_want(ev: _Eval) -> str:
    return ", ".join(f"{_fmt_key(_key(lbl))} {slots}" for lbl, slots, _ in ev.series) or "(nothing)"


def _fmt_got_vector(res: VectorResult) -> str:
    return ", ".join(f"{_fmt_key(_key(s.labels))} {s.value}" for s in res.samples) or "(nothing)"


def summarize(results: list[CaseResult]) -> tuple[int, int, int]:
    passed = sum(r.status == PASSED for r in results)
    failed = sum(r.status == FAILED for r in results)
    skipped = sum(r.status == SKIPPED for r in results)
    return passed, failed, skipped
