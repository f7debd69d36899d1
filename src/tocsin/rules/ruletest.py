"""`tocsin test rules`: promtool's rule unit tests (`promtool test rules`).

The file format and semantics are promtool's: rule files relative to the test
file, `evaluation_interval`, `group_eval_order`, `input_series` in promqltest
value notation, `alert_rule_test` (firing alerts at an eval time) and
`promql_expr_test` (an instant query after all evaluations), external labels
and URL, `start_timestamp`, `fuzzy_compare` (one ULP). Messages follow
promtool's so that CI logs read the same.
"""

from __future__ import annotations

import asyncio
import glob
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from tocsin.alerting.config.durations import format_prom_duration, parse_prom_duration
from tocsin.config.yamlpos import load_yaml
from tocsin.errors import ConfigError, TocsinError
from tocsin.promql.engine import Engine
from tocsin.promql.promqltest import ScriptError, _split_value_tokens, parse_series, parse_values
from tocsin.promql.values import MatrixResult
from tocsin.rules import histograms
from tocsin.rules.alerting import AlertingRule, AlertState
from tocsin.rules.group import Group, build_rules
from tocsin.rules.loader import load_rule_file
from tocsin.rules.query import LocalQuerier
from tocsin.rules.rawyaml import RawScalars
from tocsin.rules.rule import label_key
from tocsin.rules.teststore import RuleTestStore

_FILE_FIELDS = {"rule_files", "evaluation_interval", "group_eval_order", "tests", "fuzzy_compare"}
_GROUP_FIELDS = {
    "interval",
    "input_series",
    "alert_rule_test",
    "promql_expr_test",
    "external_labels",
    "external_url",
    "name",
    "start_timestamp",
}
_SERIES_FIELDS = {"series", "values"}
_ALERT_TEST_FIELDS = {"eval_time", "alertname", "exp_alerts"}
_EXP_ALERT_FIELDS = {"exp_labels", "exp_annotations"}
_EXPR_TEST_FIELDS = {"expr", "eval_time", "exp_samples"}
_SAMPLE_FIELDS = {"labels", "value", "histogram"}


class TestFileError(TocsinError):
    """The unit test file itself is malformed."""


@dataclass
class Options:
    run: re.Pattern[str] | None = None
    ignore_unknown_fields: bool = False
    debug: bool = False


def run_files(
    files: Sequence[str | Path],
    opts: Options,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run each test file, print promtool-style results; 0 if all passed, else 1."""
    out = out or sys.stdout
    err = err or sys.stderr
    failed = False
    for f in files:
        print(f"Unit Testing: {f}", file=out)
        errors = run_file(f, opts, err)
        if errors:
            print("  FAILED:", file=err)
            for e in errors:
                print(e, file=err)
                print(file=out)
            failed = True
        else:
            print("  SUCCESS", file=out)
        print(file=out)
    return 1 if failed else 0


def run_file(path: str | Path, opts: Options, err: TextIO | None = None) -> list[str]:
    """Run one test file; returns the error messages (empty when all passed)."""
    err = err or sys.stderr
    try:
        spec = _parse_file(Path(path), err)
    except (ConfigError, TestFileError) as exc:
        return [str(exc)]
    order: dict[str, int] = {}
    for i, name in enumerate(spec.group_eval_order):
        if name in order:
            return [f"group name repeated in evaluation order: {name}"]
        order[name] = i
    errors: list[str] = []
    for i, tg in enumerate(spec.tests):
        if opts.run is not None and not opts.run.search(tg.name):
            continue
        label = tg.name or f"unnamed#{i}"
        if opts.debug:
            print(f"DEBUG: Starting test {label}", file=err)
        errors.extend(asyncio.run(_run_group(tg, spec, order, opts, err)))
        if opts.debug:
            print(f"DEBUG: Test {label} finished", file=err)
    return errors


# --------------------------------------------------------------------------- file


@dataclass
class _AlertTest:
    eval_ms: int
    alertname: str
    exp: list[tuple[dict[str, str], dict[str, str]]]


@dataclass
class _ExpSample:
    labels: str
    value: float
    histogram: str


@dataclass
class _ExprTest:
    expr: str
    eval_ms: int
    exp: list[_ExpSample]


@dataclass
class _TestGroup:
    name: str
    interval_ms: int
    series: list[tuple[str, str]]
    alerts: list[_AlertTest]
    exprs: list[_ExprTest]
    external_labels: dict[str, str]
    external_url: str
    start_ms: int


@dataclass
class _TestFile:
    rule_files: list[str]
    eval_ms: int
    group_eval_order: list[str]
    tests: list[_TestGroup]
    fuzzy: bool
    ignore: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, file: str, positions: Any, raw: RawScalars) -> None:
        self.file = file
        self.pos = positions
        self.raw = raw

    def fail(self, path: tuple[str | int, ...], msg: str) -> TestFileError:
        _, line = self.pos.locate(path)
        where = f"{self.file}:{line}" if line else self.file
        return TestFileError(f"{where}: {msg}")

    def mapping(
        self, v: Any, path: tuple[str | int, ...], allowed: set[str], what: str
    ) -> dict[str, Any]:
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            raise self.fail(path, f"{what} must be a mapping")
        for k in v:
            if k not in allowed:
                raise self.fail((*path, k), f"field {k} not found in type {what}")
        return dict(v)

    def items(self, v: Any, path: tuple[str | int, ...], what: str) -> list[Any]:
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.fail(path, f"{what} must be a list")
        return v

    def text(self, v: Any, path: tuple[str | int, ...] | None = None) -> str:
        if v is None:
            return ""
        if path is not None and isinstance(v, str | int | float):
            raw = self.raw.get(path)
            if raw is not None:
                return raw
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    def duration_ms(self, v: Any, path: tuple[str | int, ...]) -> int:
        if v is None:
            return 0
        try:
            return round(parse_prom_duration(self.text(v)) * 1000)
        except ValueError as exc:
            raise self.fail(path, str(exc)) from None


def _parse_file(path: Path, err: TextIO) -> _TestFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TestFileError(f"{path}: {exc.strerror}") from None
    data, pos = load_yaml(text, str(path))
    r = _Reader(str(path), pos, RawScalars(text))
    top = r.mapping(data, (), _FILE_FIELDS, "unitTestFile")
    base = path.parent
    rule_files: list[str] = []
    for i, rf in enumerate(r.items(top.get("rule_files"), ("rule_files",), "rule_files")):
        pattern = r.text(rf)
        if pattern and not Path(pattern).is_absolute():
            pattern = str(base / pattern)
        matches = sorted(glob.glob(pattern))
        if not matches:
            print(f"  WARNING: no file match pattern {pattern}", file=err)
        rule_files.extend(matches)
        del i
    eval_ms = r.duration_ms(top.get("evaluation_interval"), ("evaluation_interval",)) or 60_000
    order = [
        r.text(x)
        for x in r.items(top.get("group_eval_order"), ("group_eval_order",), "group_eval_order")
    ]
    fuzzy = bool(top.get("fuzzy_compare", False))
    tests = []
    for i, raw in enumerate(r.items(top.get("tests"), ("tests",), "tests")):
        tests.append(_parse_group(r, raw, ("tests", i), eval_ms))
    return _TestFile(rule_files, eval_ms, order, tests, fuzzy)


def _parse_group(r: _Reader, raw: Any, path: tuple[str | int, ...], eval_ms: int) -> _TestGroup:
    g = r.mapping(raw, path, _GROUP_FIELDS, "testGroup")
    interval = r.duration_ms(g.get("interval"), (*path, "interval")) or eval_ms
    series = []
    for j, s in enumerate(r.items(g.get("input_series"), (*path, "input_series"), "input_series")):
        sm = r.mapping(s, (*path, "input_series", j), _SERIES_FIELDS, "series")
        sp = (*path, "input_series", j)
        series.append(
            (r.text(sm.get("series"), (*sp, "series")), r.text(sm.get("values"), (*sp, "values")))
        )
    alerts = []
    for j, a in enumerate(
        r.items(g.get("alert_rule_test"), (*path, "alert_rule_test"), "alert_rule_test")
    ):
        ap = (*path, "alert_rule_test", j)
        am = r.mapping(a, ap, _ALERT_TEST_FIELDS, "alertTestCase")
        exp = []
        for k, e in enumerate(r.items(am.get("exp_alerts"), (*ap, "exp_alerts"), "exp_alerts")):
            xp = (*ap, "exp_alerts", k)
            em = r.mapping(e, xp, _EXP_ALERT_FIELDS, "alert")
            labels = {
                str(x): r.text(y, (*xp, "exp_labels", x))
                for x, y in (em.get("exp_labels") or {}).items()
            }
            annotations = {
                str(x): r.text(y, (*xp, "exp_annotations", x))
                for x, y in (em.get("exp_annotations") or {}).items()
            }
            exp.append((labels, annotations))
        alerts.append(
            _AlertTest(
                r.duration_ms(am.get("eval_time"), (*ap, "eval_time")),
                r.text(am.get("alertname"), (*ap, "alertname")),
                exp,
            )
        )
    exprs = []
    for j, e in enumerate(
        r.items(g.get("promql_expr_test"), (*path, "promql_expr_test"), "promql_expr_test")
    ):
        ep = (*path, "promql_expr_test", j)
        em = r.mapping(e, ep, _EXPR_TEST_FIELDS, "promqlTestCase")
        samples = []
        for k, s in enumerate(r.items(em.get("exp_samples"), (*ep, "exp_samples"), "exp_samples")):
            sm = r.mapping(s, (*ep, "exp_samples", k), _SAMPLE_FIELDS, "sample")
            try:
                value = float(sm.get("value") or 0.0)
            except (TypeError, ValueError):
                raise r.fail(
                    (*ep, "exp_samples", k, "value"), f"invalid value {sm.get('value')!r}"
                ) from None
            xp = (*ep, "exp_samples", k)
            samples.append(
                _ExpSample(
                    r.text(sm.get("labels"), (*xp, "labels")),
                    value,
                    r.text(sm.get("histogram"), (*xp, "histogram")),
                )
            )
        exprs.append(
            _ExprTest(
                r.text(em.get("expr"), (*ep, "expr")),
                r.duration_ms(em.get("eval_time"), (*ep, "eval_time")),
                samples,
            )
        )
    start_ms = 0
    if g.get("start_timestamp") is not None:
        start_ms = _parse_start(r, g["start_timestamp"], (*path, "start_timestamp"))
    ext = {
        str(k): r.text(v, (*path, "external_labels", k))
        for k, v in (g.get("external_labels") or {}).items()
    }
    return _TestGroup(
        r.text(g.get("name"), (*path, "name")),
        interval,
        series,
        alerts,
        exprs,
        ext,
        r.text(g.get("external_url"), (*path, "external_url")),
        start_ms,
    )


def _parse_start(r: _Reader, v: Any, path: tuple[str | int, ...]) -> int:
    if isinstance(v, datetime):
        return round(v.timestamp() * 1000)
    text = r.text(v)
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    try:
        return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise r.fail(path, f"cannot parse {text!r} to a valid timestamp") from None


# --------------------------------------------------------------------------- running


async def _run_group(
    tg: _TestGroup, spec: _TestFile, order: Mapping[str, int], opts: Options, err: TextIO
) -> list[str]:
    store = RuleTestStore()
    hstore = histograms.HistogramStore()
    try:
        pending = _load_series(store, hstore, tg)
    except (ScriptError, histograms.HistogramParseError) as exc:
        return [str(exc)]
    engine = Engine(subquery_step=spec.eval_ms / 1000)
    try:
        specs = [
            g
            for f in spec.rule_files
            for g in load_rule_file(f, ignore_unknown_fields=opts.ignore_unknown_fields)
        ]
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    querier = LocalQuerier(engine, store)
    groups = [
        Group(
            s,
            build_rules(s, tg.external_labels, tg.external_url, restored=True),
            tg.interval_ms / 1000,
            querier,
            store,
        )
        for s in specs
    ]
    groups.sort(key=lambda g: order.get(g.name, 0))

    mint = tg.start_ms
    max_eval = max([a.eval_ms for a in tg.alerts] + [e.eval_ms for e in tg.exprs] + [0])
    maxt = mint + max_eval
    feq = _fuzzy_equal if spec.fuzzy else _exact_equal

    for a in tg.alerts:
        if not a.alertname:
            where = f" (in TestGroup {tg.name})" if tg.name else ""
            return [
                "an item under alert_rule_test misses required attribute alertname at eval_time "
                f"{format_prom_duration(a.eval_ms / 1000)}{where}"
            ]
    alert_times = sorted({a.eval_ms for a in tg.alerts})
    curr = 0
    errors: list[str] = []
    ts = mint
    step = spec.eval_ms
    while ts <= maxt:
        pending.load_until(store, ts)
        eval_errs = []
        for g in groups:
            await g.eval(ts / 1000)
            for rule in g.rules:
                if rule.status.last_error is not None:
                    eval_errs.append(
                        f"    rule: {rule.name}, time: {go_duration(ts / 1000)}, "
                        f"err: {rule.status.last_error}"
                    )
        errors.extend(eval_errs)
        if eval_errs:
            return errors
        while curr < len(alert_times) and ts - mint <= alert_times[curr] < ts + step - mint:
            t = alert_times[curr]
            got: dict[str, list[tuple[dict[str, str], dict[str, str]]]] = {}
            wanted = {a.alertname for a in tg.alerts if a.eval_ms == t}
            for g in groups:
                for rule in g.rules:
                    if isinstance(rule, AlertingRule) and rule.name in wanted:
                        got.setdefault(rule.name, []).extend(
                            (a.labels, a.annotations)
                            for a in rule.active_alerts()
                            if a.state == AlertState.FIRING
                        )
            for case in (a for a in tg.alerts if a.eval_ms == t):
                exp = [({**lab, "alertname": case.alertname}, ann) for lab, ann in case.exp]
                have = got.get(case.alertname, [])
                exp_s, have_s = _sort_alerts(exp), _sort_alerts(have)
                if exp_s != have_s:
                    name = f"    name: {tg.name},\n" if tg.name else ""
                    errors.append(
                        f"{name}    alertname: {case.alertname}, "
                        f"time: {format_prom_duration(t / 1000)}, \n"
                        f"        exp:{_indent(_fmt_alerts(exp_s), '            ')}, \n"
                        f"        got:{_indent(_fmt_alerts(have_s), '            ')}"
                    )
            curr += 1
        ts += step

    for ecase in tg.exprs:
        when = format_prom_duration(ecase.eval_ms / 1000)
        try:
            got_samples = _query(engine, store, hstore, ecase.expr, (mint + ecase.eval_ms) / 1000)
        except TocsinError as exc:
            errors.append(f'    expr: "{_go_quote_body(ecase.expr)}", time: {when}, err: {exc}')
            continue
        exp_samples: list[tuple[dict[str, str], float, str]] = []
        bad = None
        for es in ecase.exp:
            try:
                labels = _parse_metric(es.labels)
                hist = ""
                if es.histogram:
                    hist = histograms.parse_literal(es.histogram).test_expression()
            except (ScriptError, histograms.HistogramParseError) as exc:
                bad = (
                    f'    expr: "{_go_quote_body(ecase.expr)}", time: {when}, '
                    f'err: labels "{es.labels}": {exc}'
                )
                break
            exp_samples.append((labels, es.value if not hist else 0.0, hist))
        if bad:
            errors.append(bad)
            continue
        exp_samples.sort(key=lambda x: label_key(x[0]))
        got_samples.sort(key=lambda x: label_key(x[0]))
        if not _samples_equal(exp_samples, got_samples, feq):
            errors.append(
                f'    expr: "{_go_quote_body(ecase.expr)}", time: {when},\n'
                f"        exp: {_fmt_samples(exp_samples)}\n"
                f"        got: {_fmt_samples(got_samples)}"
            )
    if opts.debug:
        _debug_dump(engine, store, mint, max_eval, err)
    return errors


class _Pending:
    """Input samples not yet in the store: promtool loads them lazily, up to
    each evaluation time, so a query (an `@` modifier) never sees later input."""

    def __init__(self) -> None:
        self.samples: list[tuple[int, dict[str, str], float]] = []
        self.pos = 0

    def load_until(self, store: RuleTestStore, t_ms: int) -> None:
        while self.pos < len(self.samples) and self.samples[self.pos][0] <= t_ms:
            t, labels, v = self.samples[self.pos]
            store.append(labels, t, v)
            self.pos += 1


def _load_series(
    store: RuleTestStore, hstore: histograms.HistogramStore, tg: _TestGroup
) -> _Pending:
    pending = _Pending()
    for series, values in tg.series:
        labels, rest = parse_series(series)
        if rest.strip():
            raise ScriptError(f"invalid series {series!r}: unexpected {rest.strip()!r}")
        tokens = _split_value_tokens(values)
        if any("{{" in t for t in tokens):
            for k, h in enumerate(histograms.expand(tokens)):
                if h is not None:
                    hstore.append(labels, tg.start_ms + k * tg.interval_ms, h)
            store.add_unsupported(
                labels, "native histograms are only supported as plain selectors in rule tests"
            )
            continue
        slots, _ = parse_values(tokens)
        for k, v in enumerate(slots):
            if v is not None:
                pending.samples.append((tg.start_ms + k * tg.interval_ms, labels, v))
    pending.samples.sort(key=lambda x: x[0])
    return pending


Got = tuple[dict[str, str], float, str]


def _query(
    engine: Engine, store: RuleTestStore, hstore: histograms.HistogramStore, expr: str, t: float
) -> list[Got]:
    hist = hstore.answer(expr, round(t * 1000), engine.lookback_ms)
    if hist is not None:
        return [(labels, 0.0, h.test_expression()) for labels, h in hist.samples]
    return [(s.labels, s.value, "") for s in LocalQuerier(engine, store).query_sync(expr, t)]


def _parse_metric(text: str) -> dict[str, str]:
    if not text.strip():
        return {}
    labels, rest = parse_series(text)
    if rest.strip():
        raise ScriptError(f"unexpected {rest.strip()!r} after the label set")
    return labels


def _exact_equal(a: float, b: float) -> bool:
    return a == b


def _fuzzy_equal(a: float, b: float) -> bool:
    return a == b or math.nextafter(a, -math.inf) == b or math.nextafter(a, math.inf) == b


def _samples_equal(exp: list[Got], got: list[Got], feq: Any) -> bool:
    if len(exp) != len(got):
        return False
    for (el, ev, eh), (gl, gv, gh) in zip(exp, got, strict=True):
        if el != gl or eh != gh or not feq(ev, gv):
            return False
    return True


def _sort_alerts(
    items: list[tuple[dict[str, str], dict[str, str]]],
) -> list[tuple[dict[str, str], dict[str, str]]]:
    return sorted(items, key=lambda x: (label_key(x[0]), label_key(x[1])))


# --------------------------------------------------------------------------- formatting


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() for a number of seconds."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1000), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    h, rem = divmod(ns, 3_600_000_000_000)
    m, rem = divmod(rem, 60_000_000_000)
    s = _trim(rem / 1e9)
    if h:
        return f"{sign}{h}h{m}m{s}s"
    if m:
        return f"{sign}{m}m{s}s"
    return f"{sign}{s}s"


def _trim(v: float) -> str:
    return f"{v:.9f}".rstrip("0").rstrip(".")


def labels_string(labels: Mapping[str, str]) -> str:
    """Prometheus's labels.String(): `{a="1", b="2"}`."""
    inner = ", ".join(f"{k}={_go_quote(v)}" for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _go_quote(v: str) -> str:
    return '"' + _go_quote_body(v) + '"'


def _go_quote_body(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


def format_float_e(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'E', -1, 64)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    s = np.format_float_scientific(v, unique=True, exp_digits=2).upper()
    mant, exp = s.split("E")
    return mant.rstrip(".") + "E" + exp


def _fmt_samples(samples: list[Got]) -> str:
    if not samples:
        return "nil"
    parts = []
    for labels, value, hist in samples:
        parts.append(labels_string(labels) + " " + (hist or format_float_e(value)))
    return ", ".join(parts)


def _fmt_alerts(items: list[tuple[dict[str, str], dict[str, str]]]) -> str:
    if not items:
        return "[]"
    blocks = [
        f"{i}:" + _indent(f"\nLabels:{labels_string(lab)}\nAnnotations:{labels_string(ann)}", "  ")
        for i, (lab, ann) in enumerate(items)
    ]
    return "[\n" + ",\n".join(blocks) + "\n]"


def _indent(text: str, prefix: str) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0]] + [prefix + line for line in lines[1:]])


def _debug_dump(
    engine: Engine, store: RuleTestStore, mint: int, max_eval: int, err: TextIO
) -> None:
    span = (max_eval // 1000) + 1
    expr = f'{{__name__=~".+"}}[{span}s]'
    try:
        res = engine.instant_query(store, expr, (mint + span * 1000) / 1000)
    except TocsinError as exc:
        print(f'DEBUG: Failed query exec, expr: "{expr}", err: {exc}', file=err)
        return
    print(f"DEBUG: Dump of all data (input_series and rules) at {go_duration(span)}:", file=err)
    if isinstance(res, MatrixResult):
        for s in res.series:
            points = " ".join(
                f"{format_float_e(float(v))} @[{int(t)}]"
                for t, v in zip(s.timestamps, s.values, strict=True)
            )
            print(f"{labels_string(s.labels)} =>\n{points}", file=err)
