"""The PromQL engine: parse with promql-parser, evaluate vectorised with numpy.

Every node is evaluated for all steps of the query at once (see values.py), so
a range query costs one pass over the tree, and an instant query over 100,000
series is a handful of array operations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import promql_parser as pp

from tocsin.errors import QueryError, UnsupportedFeature
from tocsin.goregex import GoRegexError, go_to_python_regex
from tocsin.promql import aggregations, binops, functions
from tocsin.promql.annotations import Annotations
from tocsin.promql.labels import NAME, LabelTable
from tocsin.promql.selection import (
    FlatSeries,
    drop_stale,
    instant_lookup,
    select_flat,
    select_instant_fast,
    windows,
)
from tocsin.promql.values import (
    I64,
    MatrixResult,
    QueryResult,
    RangeVector,
    ScalarResult,
    Scalars,
    SeriesPoints,
    StepVector,
    Str,
    StringResult,
    VectorResult,
)
from tocsin.tsdb.types import LabelMatcher, MatchOp, Queryable

Value = StepVector | Scalars | Str | RangeVector

_OPS = {
    int(pp.MatchOp.Equal): MatchOp.EQ,
    int(pp.MatchOp.NotEqual): MatchOp.NE,
    int(pp.MatchOp.Re): MatchOp.RE,
    int(pp.MatchOp.NotRe): MatchOp.NRE,
}


def selector_matchers(node: Any) -> list[LabelMatcher]:
    """A parsed vector selector's matchers, regexes in Python's spelling.

    QueryError(bad_data) for a regex Go would not accept or Python would read
    differently; UnsupportedFeature for `or` inside the braces.
    """
    if node.matchers.or_matchers:
        raise UnsupportedFeature("'or' inside a label matcher list is not supported")
    out = []
    for m in node.matchers.matchers:
        op = _OPS[int(m.op)]
        value = m.value
        if op in (MatchOp.RE, MatchOp.NRE):
            try:
                value = go_to_python_regex(value)
            except GoRegexError as e:
                raise QueryError(str(e), kind="bad_data") from None
        out.append(LabelMatcher(m.name, op, value))
    if node.name is not None:
        out.insert(0, LabelMatcher(NAME, MatchOp.EQ, node.name))
    return out


def parse(query: str) -> Any:
    """Parse a PromQL expression; syntax errors become QueryError(bad_data)."""
    try:
        return pp.parse(query)
    except ValueError as e:
        raise QueryError(f"parse error: {e}", kind="bad_data") from e
    except BaseException as e:  # the Rust parser may panic on odd input
        if isinstance(e, KeyboardInterrupt | SystemExit):
            raise
        raise QueryError(f"parse error: {e}", kind="bad_data") from e


def ms(td: Any) -> int:
    """A datetime.timedelta as integer milliseconds."""
    return round(td.total_seconds() * 1000)


def duration_ms(node: Any, field: str) -> int | None:
    """A node's duration field (`range`, `step`, `offset`) in milliseconds, or None.

    The parser hands durations over as timedelta, which stops at 999,999,999
    days: reading a longer one raises, which must be the user's bad_data (as
    Prometheus's "duration out of range"), not an internal error.
    """
    try:
        td = getattr(node, field)
    except (ValueError, OverflowError) as e:
        raise QueryError(f"duration out of range: {e}", kind="bad_data") from e
    return None if td is None else ms(td)


@dataclass
class Ctx:
    """Where and how one (sub)expression is evaluated."""

    q: Queryable
    times: I64  # step times in ms
    start_ms: int  # query start/end, for `@ start()` / `@ end()`
    end_ms: int
    interval_ms: int  # the query step (for step())
    deadline: float | None
    samples: list[int] = field(default_factory=lambda: [0])
    notes: Annotations = field(default_factory=lambda: Annotations(""))
    range_query: bool = False

    @property
    def steps(self) -> int:
        return len(self.times)


class Engine:
    """Evaluates PromQL against a Queryable.

    lookback_delta: seconds an instant selector looks back for a sample.
    max_samples: most samples one query may load before it fails.
    timeout: seconds a query may run (checked between nodes), None = no limit.
    subquery_step: step of subqueries written without one, in seconds.
    range_chunk_steps: range queries are evaluated this many steps at a time.
    """

    def __init__(
        self,
        lookback_delta: float = 300.0,
        max_samples: int = 50_000_000,
        timeout: float | None = None,
        subquery_step: float = 60.0,
        range_chunk_steps: int = 64,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if range_chunk_steps < 1:
            raise ValueError("range_chunk_steps must be at least 1")
        self.range_chunk_steps = range_chunk_steps
        self.lookback_ms = int(lookback_delta * 1000)
        self.max_samples = max_samples
        self.timeout = timeout
        self.subquery_step_ms = int(subquery_step * 1000)
        self._monotonic = monotonic

    # public API ---------------------------------------------------------------
    def instant_query(self, queryable: Queryable, query: str, t: float) -> QueryResult:
        """Evaluate `query` at Unix time `t` (seconds)."""
        node = parse(query)
        t_ms = round(t * 1000)
        ctx = self._ctx(queryable, np.array([t_ms], dtype=np.int64), t_ms, t_ms, 0)
        ctx.notes = Annotations(query)
        val = self.eval(node, ctx)
        result = self._instant_result(val, t_ms)
        result.warnings, result.infos = ctx.notes.warnings, ctx.notes.infos
        return result

    def range_query(
        self, queryable: Queryable, query: str, start: float, end: float, step: float
    ) -> MatrixResult:
        """Evaluate `query` at start, start+step, ... <= end (seconds)."""
        if step <= 0:
            raise QueryError(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer",
                kind="bad_data",
            )
        if end < start:
            raise QueryError("end timestamp must not be before start time", kind="bad_data")
        node = parse(query)
        s_ms, e_ms, st_ms = (
            round(start * 1000),
            round(end * 1000),
            round(step * 1000),
        )
        times = np.arange(s_ms, e_ms + 1, st_ms, dtype=np.int64)
        if len(times) > 11000:
            raise QueryError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)",
                kind="bad_data",
            )
        first = self._ctx(queryable, times, s_ms, e_ms, st_ms)
        notes = Annotations(query)
        # Steps are independent, so evaluate them in chunks: memory stays
        # bounded by series x chunk instead of series x all steps.
        parts: list[MatrixResult] = []
        for a in range(0, len(times), self.range_chunk_steps):
            chunk = times[a : a + self.range_chunk_steps]
            ctx = Ctx(
                queryable, chunk, s_ms, e_ms, st_ms, first.deadline, first.samples, notes, True
            )
            val = self.eval(node, ctx)
            if isinstance(val, Scalars):
                parts.append(MatrixResult([SeriesPoints({}, chunk, val.values)]))
                continue
            if not isinstance(val, StepVector):
                kind = "range vector" if isinstance(val, RangeVector) else "string"
                raise QueryError(
                    f'invalid expression type "{kind}" for range query, '
                    "must be Scalar or instant Vector",
                    kind="bad_data",
                )
            parts.append(_matrix_from_steps(val, chunk))
        result = parts[0] if len(parts) == 1 else _merge_matrices(parts)
        result.warnings, result.infos = notes.warnings, notes.infos
        return result

    # evaluation ---------------------------------------------------------------
    def _ctx(self, q: Queryable, times: I64, s: int, e: int, step: int) -> Ctx:
        deadline = None if self.timeout is None else self._monotonic() + self.timeout
        return Ctx(q, times, s, e, step, deadline)

    def check(self, ctx: Ctx, loaded: int = 0) -> None:
        if ctx.deadline is not None and self._monotonic() > ctx.deadline:
            raise QueryError("query timed out in expression evaluation", kind="timeout")
        if loaded:
            ctx.samples[0] += loaded
            if ctx.samples[0] > self.max_samples:
                raise QueryError(
                    "query processing would load too many samples into memory in query execution",
                    kind="execution",
                )

    def eval(self, node: Any, ctx: Ctx) -> Value:
        self.check(ctx)
        if isinstance(node, pp.ParenExpr):
            return self.eval(node.expr, ctx)
        if isinstance(node, pp.NumberLiteral):
            return Scalars(np.full(ctx.steps, float(node.val)))
        if isinstance(node, pp.StringLiteral):
            return Str(node.val)
        if isinstance(node, pp.VectorSelector):
            return self.eval_selector(node, ctx)[0]
        if isinstance(node, pp.MatrixSelector):
            return self.eval_matrix(node, ctx)
        if isinstance(node, pp.SubqueryExpr):
            return self.eval_subquery(node, ctx)
        if isinstance(node, pp.UnaryExpr):
            return _negate(self.eval(node.expr, ctx))
        if isinstance(node, pp.BinaryExpr):
            return binops.evaluate(self, node, ctx)
        if isinstance(node, pp.AggregateExpr):
            return aggregations.evaluate(self, node, ctx)
        if isinstance(node, pp.Call):
            return functions.evaluate(self, node, ctx)
        raise UnsupportedFeature(f"unsupported PromQL expression: {type(node).__name__}")

    def eval_vector(self, node: Any, ctx: Ctx) -> StepVector:
        v = self.eval(node, ctx)
        if not isinstance(v, StepVector):
            raise QueryError(f"expected instant vector, got {type(v).__name__}", kind="bad_data")
        return v

    def eval_scalar(self, node: Any, ctx: Ctx) -> Scalars:
        v = self.eval(node, ctx)
        if not isinstance(v, Scalars):
            raise QueryError(f"expected scalar, got {type(v).__name__}", kind="bad_data")
        return v

    def selector_times(self, node: Any, ctx: Ctx) -> I64:
        """Step times a selector or subquery reads at, after `@` and `offset`."""
        times = ctx.times
        at = node.at
        if at is not None:
            if at.type == pp.AtModifierType.Start:
                at_ms = ctx.start_ms
            elif at.type == pp.AtModifierType.End:
                at_ms = ctx.end_ms
            else:
                try:
                    at_ms = round(at.at.timestamp() * 1000)
                except BaseException as e:
                    if isinstance(e, KeyboardInterrupt | SystemExit):
                        raise
                    raise UnsupportedFeature(
                        "the @ modifier with a timestamp before 1970 or after 9999 is not supported"
                    ) from e
            times = np.full(ctx.steps, at_ms, dtype=np.int64)
        offset = duration_ms(node, "offset")
        if offset is not None:
            times = times - offset
        return times

    def matchers(self, node: Any) -> list[LabelMatcher]:
        return selector_matchers(node)

    def eval_selector(self, node: Any, ctx: Ctx) -> tuple[StepVector, I64]:
        """An instant selector; also returns the (N, S) sample timestamps."""
        times = self.selector_times(node, ctx)
        matchers = self.matchers(node)
        s = ctx.steps
        if (times == times[0]).all():
            fast = select_instant_fast(ctx.q, matchers, int(times[0]), self.lookback_ms)
            if fast is not None:
                table, vals, stamps = fast
                n = table.n
                self.check(ctx, n)
                values = np.repeat(vals[:, None], s, axis=1) if s > 1 else vals[:, None]
                if stamps is None:
                    stamps = np.full(n, int(times[0]), dtype=np.int64)
                sts = np.repeat(stamps[:, None], s, axis=1) if s > 1 else stamps[:, None]
                return (
                    StepVector(table, values, np.ones((n, s), dtype=bool), np.zeros(n, bool)),
                    sts,
                )
        flat = select_flat(
            ctx.q, matchers, int(times.min()) - self.lookback_ms + 1, int(times.max())
        )
        self.check(ctx, len(flat.ts))
        values, present, sts = instant_lookup(flat, times, self.lookback_ms)
        sv = StepVector(flat.labels, values, present, np.zeros(flat.n, dtype=bool))
        keep: Any = np.asarray(present.any(axis=1))
        return sv.take(keep), sts[keep]

    def eval_matrix(self, node: Any, ctx: Ctx) -> RangeVector:
        vs = node.vector_selector
        times = self.selector_times(vs, ctx)
        range_ms = duration_ms(node, "range") or 0
        flat = select_flat(
            ctx.q, self.matchers(vs), int(times.min()) - range_ms + 1, int(times.max())
        )
        self.check(ctx, len(flat.ts))
        return _range_vector(drop_stale(flat), times, range_ms, np.zeros(flat.n, dtype=bool))

    def eval_subquery(self, node: Any, ctx: Ctx) -> RangeVector:
        times = self.selector_times(node, ctx)
        range_ms = duration_ms(node, "range") or 0
        step = duration_ms(node, "step")
        step_ms = self.subquery_step_ms if step is None else step
        if step_ms <= 0:
            raise QueryError("subquery step must be positive", kind="bad_data")
        lo_edge = int(times.min()) - range_ms
        start = step_ms * (lo_edge // step_ms)
        if start <= lo_edge:
            start += step_ms
        inner_times = np.arange(start, int(times.max()) + 1, step_ms, dtype=np.int64)
        if not len(inner_times):
            # No step multiple falls in the window (e.g. x[5m:1h]): Prometheus
            # evaluates the inner expression at no time and answers nothing.
            none = FlatSeries(
                LabelTable.empty(0),
                np.empty(0, dtype=np.int64),
                np.empty(0, dtype=np.float64),
                np.zeros(1, dtype=np.intp),
            )
            return _range_vector(none, times, range_ms, np.zeros(0, dtype=bool))
        inner_ctx = Ctx(
            ctx.q,
            inner_times,
            ctx.start_ms,
            ctx.end_ms,
            step_ms,
            ctx.deadline,
            ctx.samples,
            ctx.notes,
            ctx.range_query,
        )
        inner = self.eval(node.expr, inner_ctx)
        if isinstance(inner, Scalars):
            inner = StepVector(
                LabelTable.empty(1),
                inner.values[None, :],
                np.ones((1, len(inner_times)), dtype=bool),
                np.zeros(1, dtype=bool),
            )
        if not isinstance(inner, StepVector):
            raise QueryError("subquery is only allowed on instant vector", kind="bad_data")
        inner = inner.compact()
        rows, cols = np.nonzero(inner.present)
        counts = np.bincount(rows, minlength=inner.n)
        off = np.zeros(inner.n + 1, dtype=np.intp)
        np.cumsum(counts, out=off[1:])
        flat = FlatSeries(inner.labels, inner_times[cols], inner.values[rows, cols], off)
        self.check(ctx, len(flat.ts))
        return _range_vector(flat, times, range_ms, inner.drop_name)

    # results ------------------------------------------------------------------
    def _instant_result(self, val: Value, t_ms: int) -> QueryResult:
        if isinstance(val, Scalars):
            return ScalarResult(float(val.values[0]), t_ms)
        if isinstance(val, Str):
            return StringResult(val.value, t_ms)
        if isinstance(val, RangeVector):
            return _matrix_from_range(val)
        sv = val.take(val.present[:, 0]) if val.n else val
        labels = finish_labels(sv)
        return VectorResult(labels, sv.values[:, 0].copy(), t_ms)


def _negate(v: Value) -> Value:
    if isinstance(v, Scalars):
        return Scalars(-v.values)
    if isinstance(v, StepVector):
        return StepVector(v.labels, -v.values, v.present, np.ones(v.n, dtype=bool))
    raise QueryError("unary minus needs a scalar or an instant vector", kind="bad_data")


def _range_vector(flat: FlatSeries, times: I64, range_ms: int, drop: Any) -> RangeVector:
    lo, hi = windows(flat, times, range_ms)
    return RangeVector(flat.labels, flat.ts, flat.vals, flat.off, lo, hi, times, range_ms, drop)


def finish_labels(sv: StepVector) -> LabelTable:
    """Apply delayed __name__ removal and refuse duplicate label sets."""
    labels = sv.labels.drop_name_where(sv.drop_name)
    if sv.n > 1:
        inv, first = labels.group(None)
        if len(first) < sv.n:
            counts = np.bincount(
                (inv[:, None] * sv.present.shape[1] + np.arange(sv.present.shape[1]))[sv.present],
                minlength=len(first) * sv.present.shape[1],
            )
            if (counts > 1).any():
                raise QueryError(
                    "vector cannot contain metrics with the same labelset", kind="execution"
                )
    return labels


def _sort_key(labels: dict[str, str]) -> list[tuple[str, str]]:
    return sorted(labels.items())


def _matrix_from_steps(sv: StepVector, times: I64) -> MatrixResult:
    sv = sv.compact()
    labels = finish_labels(sv)
    inv, first = labels.group(None)
    out: list[SeriesPoints] = []
    rows = labels.take(first).rows()
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(first) + 1))
    for g, lbl in enumerate(rows):
        members = order[bounds[g] : bounds[g + 1]]
        if len(members) == 1:
            m = members[0]
            mask = sv.present[m]
            out.append(SeriesPoints(lbl, times[mask], sv.values[m][mask]))
            continue
        mask = sv.present[members].any(axis=0)
        vals = np.zeros(len(times))
        for m in members:
            vals[sv.present[m]] = sv.values[m][sv.present[m]]
        out.append(SeriesPoints(lbl, times[mask], vals[mask]))
    out.sort(key=lambda s: _sort_key(s.labels))
    return MatrixResult(out)


def _merge_matrices(parts: list[MatrixResult]) -> MatrixResult:
    """Join the per-chunk results of one range query, series by series."""
    merged: dict[tuple[tuple[str, str], ...], list[SeriesPoints]] = {}
    for part in parts:
        for s in part.series:
            merged.setdefault(tuple(sorted(s.labels.items())), []).append(s)
    out = [
        SeriesPoints(
            pieces[0].labels,
            np.concatenate([p.timestamps for p in pieces]),
            np.concatenate([p.values for p in pieces]),
        )
        for pieces in merged.values()
    ]
    out.sort(key=lambda s: _sort_key(s.labels))
    return MatrixResult(out)


def _matrix_from_range(rv: RangeVector) -> MatrixResult:
    labels = rv.labels.drop_name_where(rv.drop_name).rows()
    out = []
    for i, lbl in enumerate(labels):
        a, b = int(rv.lo[i, 0]), int(rv.hi[i, 0])
        if b > a:
            out.append(SeriesPoints(lbl, rv.ts[a:b].copy(), rv.vals[a:b].copy()))
    out.sort(key=lambda s: _sort_key(s.labels))
    return MatrixResult(out)
