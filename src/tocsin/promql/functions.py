"""PromQL functions on floats and classic histograms."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import promql_parser as pp

from tocsin.errors import QueryError, UnsupportedFeature
from tocsin.goregex import GoRegexError, compile_go_regex
from tocsin.promql import rangefuncs
from tocsin.promql.labels import NAME, LabelTable
from tocsin.promql.mathutil import bucket_quantile, go_float
from tocsin.promql.values import F64, RangeVector, Scalars, StepVector, Str

if TYPE_CHECKING:
    from tocsin.promql.engine import Ctx, Engine, Value

_ELEMENTWISE: dict[str, Callable[[F64], F64]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sgn": np.sign,
    "acos": np.arccos,
    "acosh": np.arccosh,
    "asin": np.arcsin,
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "cos": np.cos,
    "cosh": np.cosh,
    "sin": np.sin,
    "sinh": np.sinh,
    "tan": np.tan,
    "tanh": np.tanh,
    "deg": np.degrees,
    "rad": np.radians,
}

_NATIVE_ONLY = {
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_fraction",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_quantiles",
}

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")


def evaluate(engine: Engine, node: Any, ctx: Ctx) -> Value:
    name = node.func.name
    args = list(node.args)
    if name in _NATIVE_ONLY:
        raise UnsupportedFeature(
            f"{name}() works on native histograms, which tocsin does not support"
        )
    if name == "info":
        raise UnsupportedFeature("info() is experimental and not supported by tocsin")
    steps = ctx.steps
    with np.errstate(all="ignore"):
        if name in _ELEMENTWISE:
            v = engine.eval_vector(args[0], ctx)
            return _mapped(v, _ELEMENTWISE[name](v.values))
        if name in rangefuncs.RANGE_FUNCS or name in rangefuncs.PARAM_RANGE_FUNCS:
            return _range_function(engine, name, args, ctx)
        if name == "absent_over_time":
            rv = engine.eval(args[0], ctx)
            assert isinstance(rv, RangeVector)
            has = np.asarray((rv.hi > rv.lo).any(axis=0)) if rv.n else np.zeros(steps, bool)
            sel = args[0].vector_selector if isinstance(args[0], pp.MatrixSelector) else None
            return _absent(engine, sel, has, steps)
        if name == "absent":
            v = engine.eval_vector(args[0], ctx)
            has = np.asarray(v.present.any(axis=0))
            sel = args[0] if isinstance(args[0], pp.VectorSelector) else None
            return _absent(engine, sel, has, steps)
        if name == "time":
            return Scalars(ctx.times / 1000.0)
        if name == "pi":
            return Scalars(np.full(steps, math.pi))
        if name == "start":
            return Scalars(np.full(steps, ctx.start_ms / 1000.0))
        if name == "end":
            return Scalars(np.full(steps, ctx.end_ms / 1000.0))
        if name == "step":
            return Scalars(np.full(steps, ctx.interval_ms / 1000.0))
        if name == "range":
            return Scalars(np.full(steps, (ctx.end_ms - ctx.start_ms) / 1000.0))
        if name in ("min_of", "max_of"):
            a, b = (engine.eval_scalar(x, ctx).values for x in args)
            return Scalars(np.minimum(a, b) if name == "min_of" else np.maximum(a, b))
        if name == "vector":
            s = engine.eval_scalar(args[0], ctx)
            return StepVector(
                LabelTable.empty(1),
                s.values[None, :].copy(),
                np.ones((1, steps), bool),
                np.zeros(1, bool),
            )
        if name == "scalar":
            v = engine.eval_vector(args[0], ctx)
            cnt = v.present.sum(axis=0)
            vals = np.where(v.present, v.values, 0.0).sum(axis=0) if v.n else np.zeros(steps)
            return Scalars(np.where(cnt == 1, vals, np.nan))
        if name == "timestamp":
            inner = args[0]
            while isinstance(inner, pp.ParenExpr):
                inner = inner.expr
            if isinstance(inner, pp.VectorSelector):
                v, sts = engine.eval_selector(inner, ctx)
                return _mapped(v, sts / 1000.0)
            v = engine.eval_vector(inner, ctx)
            return _mapped(v, np.broadcast_to(ctx.times / 1000.0, v.values.shape).copy())
        if name == "round":
            v = engine.eval_vector(args[0], ctx)
            to = engine.eval_scalar(args[1], ctx).values if len(args) > 1 else np.ones(steps)
            inv = 1.0 / to
            return _mapped(v, np.floor(v.values * inv[None, :] + 0.5) / inv[None, :])
        if name in ("clamp", "clamp_min", "clamp_max"):
            v = engine.eval_vector(args[0], ctx)
            scalars = [engine.eval_scalar(a, ctx).values[None, :] for a in args[1:]]
            if name == "clamp":
                lo, hi = scalars
                out = _mapped(v, np.maximum(lo, np.minimum(hi, v.values)))
                out.present = out.present & ~(hi < lo)
                return out.compact()
            if name == "clamp_min":
                return _mapped(v, np.maximum(v.values, scalars[0]))
            return _mapped(v, np.minimum(v.values, scalars[0]))
        if name in _DATE_FUNCS:
            if args:
                v = engine.eval_vector(args[0], ctx)
            else:
                v = StepVector(
                    LabelTable.empty(1),
                    (ctx.times / 1000.0)[None, :],
                    np.ones((1, steps), bool),
                    np.zeros(1, bool),
                )
            return _mapped(v, _date_part(name, v.values))
        if name.startswith("sort") and ctx.range_query:
            ctx.notes.warn(
                "sort is ineffective for range queries since results are always ordered by labels",
                name,
            )
        if name in ("sort", "sort_desc"):
            v = engine.eval_vector(args[0], ctx)
            if steps != 1 or v.n == 0:
                return v
            x = v.values[:, 0]
            key = x if name == "sort" else -x
            order = np.lexsort((key, np.isnan(x)))
            return v.take(order)
        if name in ("sort_by_label", "sort_by_label_desc"):
            v = engine.eval_vector(args[0], ctx)
            names = [_string(engine, a, ctx) for a in args[1:]]
            return _sort_by_label(v, names, desc=name.endswith("_desc"), steps=steps)
        if name == "label_replace":
            v = engine.eval_vector(args[0], ctx)
            dst, repl, src, regex = (_string(engine, a, ctx) for a in args[1:5])
            return _label_replace(v, dst, repl, src, regex)
        if name == "label_join":
            v = engine.eval_vector(args[0], ctx)
            dst, sep, *srcs = (_string(engine, a, ctx) for a in args[1:])
            return _label_join(v, dst, sep, srcs)
        if name == "histogram_quantile":
            q = engine.eval_scalar(args[0], ctx)
            warn_quantile(ctx, q.values, name, 0)
            v = engine.eval_vector(args[1], ctx)
            return _histogram_quantile(q.values, v, ctx)
    raise UnsupportedFeature(f"function {name}() is not supported by tocsin")


def _string(engine: Engine, node: Any, ctx: Ctx) -> str:
    v = engine.eval(node, ctx)
    if not isinstance(v, Str):
        raise QueryError("expected a string argument", kind="bad_data")
    return v.value


def _mapped(v: StepVector, values: F64) -> StepVector:
    """Same series, new values, __name__ to be dropped."""
    return StepVector(v.labels, values, v.present, np.ones(v.n, dtype=bool))


def _range_function(engine: Engine, name: str, args: list[Any], ctx: Ctx) -> StepVector:
    params: list[F64] = []
    range_arg = args[0]
    if name in rangefuncs.PARAM_RANGE_FUNCS:
        if name == "quantile_over_time":
            params.append(engine.eval_scalar(args[0], ctx).values)
            warn_quantile(ctx, params[0], name, 0)
            range_arg = args[1]
        else:
            params.extend(engine.eval_scalar(a, ctx).values for a in args[1:])
    rv = engine.eval(range_arg, ctx)
    if not isinstance(rv, RangeVector):
        raise QueryError(f"expected range vector in call to {name}()", kind="bad_data")
    values, present = rangefuncs.apply(name, rv, params, ctx.times)
    keeps_name = name in ("last_over_time", "first_over_time")
    drop = rv.drop_name if keeps_name else np.ones(rv.n, dtype=bool)
    return StepVector(rv.labels, values, present, drop).compact()


def _absent(engine: Engine, sel: Any, has: npt.NDArray[np.bool_], steps: int) -> StepVector:
    labels: dict[str, str] = {}
    if sel is not None:
        seen: set[str] = set()
        for m in engine.matchers(sel):
            if m.name == NAME:
                continue
            if m.op.value == "=" and m.name not in seen:
                labels[m.name] = m.value
            elif m.name in labels:
                del labels[m.name]
            seen.add(m.name)
    return StepVector(
        LabelTable.from_dicts([labels]),
        np.ones((1, steps)),
        ~has[None, :],
        np.zeros(1, dtype=bool),
    ).compact()


_DATE_FUNCS = {
    "year",
    "month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
}


def _date_part(name: str, v: F64) -> F64:
    ok = np.isfinite(v)
    secs = np.where(ok, np.trunc(v), 0).astype(np.int64)
    days = np.floor_divide(secs, 86400)
    d = days.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    if name == "year":
        out = d.astype("datetime64[Y]").astype(np.int64) + 1970
    elif name == "month":
        out = month_start.astype(np.int64) % 12 + 1
    elif name == "day_of_month":
        out = (d - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    elif name == "day_of_year":
        out = (d - d.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64) + 1
    elif name == "day_of_week":
        out = (days + 4) % 7
    elif name == "days_in_month":
        out = (
            (month_start + 1).astype("datetime64[D]") - month_start.astype("datetime64[D]")
        ).astype(np.int64)
    elif name == "hour":
        out = (secs - days * 86400) // 3600
    else:
        out = (secs - days * 86400) % 3600 // 60
    return np.where(ok, out.astype(np.float64), np.nan)


def _natural_key(s: str) -> list[tuple[int, Any]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|\D+", s)]


def _sort_by_label(v: StepVector, names: list[str], desc: bool, steps: int) -> StepVector:
    if steps != 1 or v.n < 2:
        return v
    rows = v.labels.rows()
    order = sorted(
        range(v.n),
        key=lambda i: ([_natural_key(rows[i].get(n, "")) for n in names], sorted(rows[i].items())),
        reverse=desc,
    )
    return v.take(np.array(order, dtype=np.intp))


def _check_dupes(v: StepVector) -> None:
    if v.n < 2:
        return
    inv, first = v.labels.group(None)
    if len(first) == v.n:
        return
    steps = v.present.shape[1]
    r, c = np.nonzero(v.present)
    if (np.bincount(inv[r] * steps + c, minlength=len(first) * steps) > 1).any():
        raise QueryError("vector cannot contain metrics with the same labelset", kind="execution")


_GO_GROUP_REF = re.compile(r"\$(?:\{([^}]*)\}|([a-zA-Z0-9_]+))|\$\$")


def _go_expand(template: str, m: re.Match[str]) -> str:
    """Go's Regexp.Expand: $1, ${1}, $name, ${name}; $$ is a literal $."""

    def sub(ref: re.Match[str]) -> str:
        if ref.group(0) == "$$":
            return "$"
        key = ref.group(1) if ref.group(1) is not None else ref.group(2)
        try:
            val = m.group(int(key)) if key.isdigit() else m.group(key)
        except IndexError:
            return ""
        return val or ""

    return _GO_GROUP_REF.sub(sub, template)


def _label_replace(v: StepVector, dst: str, repl: str, src: str, regex: str) -> StepVector:
    try:
        pattern = compile_go_regex(regex, anchored=True, dotall=True)
    except GoRegexError as e:
        raise QueryError(
            f"invalid regular expression in label_replace(): {regex}", kind="execution"
        ) from e
    if not _LABEL_NAME.match(dst):
        raise QueryError(
            f"invalid destination label name in label_replace(): {dst}", kind="execution"
        )
    if v.n == 0:
        return v
    inv, first = v.labels.group([src])
    src_vals = v.labels.take(first).value_strings(src)
    dst_now = v.labels.value_strings(dst)
    new_for_group: list[str | None] = []
    for s in src_vals:
        m = pattern.match(s)
        new_for_group.append(None if m is None else _go_expand(repl, m))
    values = [
        nv if (nv := new_for_group[g]) is not None else dst_now[i]
        for i, g in enumerate(inv.tolist())
    ]
    out = StepVector(v.labels.with_column(dst, values), v.values, v.present, v.drop_name)
    if dst == NAME:
        out.drop_name = np.zeros(v.n, dtype=bool)
    _check_dupes(out)
    return out


def _label_join(v: StepVector, dst: str, sep: str, srcs: list[str]) -> StepVector:
    if not _LABEL_NAME.match(dst):
        raise QueryError(f"invalid destination label name in label_join(): {dst}", kind="execution")
    for s in srcs:
        if not _LABEL_NAME.match(s):
            raise QueryError(f"invalid source label name in label_join(): {s}", kind="execution")
    if v.n == 0:
        return v
    cols = [v.labels.value_strings(s) for s in srcs]
    values = [sep.join(parts) for parts in zip(*cols, strict=True)] if cols else [""] * v.n
    out = StepVector(v.labels.with_column(dst, values), v.values, v.present, v.drop_name)
    if dst == NAME:
        out.drop_name = np.zeros(v.n, dtype=bool)
    _check_dupes(out)
    return out


def _parse_le(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def warn_quantile(ctx: Ctx, q: F64, name: str, arg: int) -> None:
    bad = q[np.isnan(q) | (q < 0) | (q > 1)]
    if len(bad):
        ctx.notes.warn(
            f"quantile value should be between 0 and 1, got {go_float(float(bad[0]))}", name, arg
        )


def _histogram_quantile(q: F64, v: StepVector, ctx: Ctx) -> StepVector:
    steps = v.values.shape[1]
    if v.n == 0:
        return StepVector.empty(steps)
    le_text = v.labels.value_strings("le")
    les = np.array([x if (x := _parse_le(s)) is not None else np.nan for s in le_text])
    usable = ~np.isnan(les)
    if not usable.all():
        names = v.labels.value_strings(NAME)
        for i in np.flatnonzero(~usable & v.present.any(axis=1)).tolist():
            ctx.notes.warn(
                f'bucket label "le" is missing or has a malformed value of "{le_text[i]}" '
                f'for metric name "{names[i]}"',
                "histogram_quantile",
                1,
            )
    v = v.take(usable)
    les = les[usable]
    if v.n == 0:
        return StepVector.empty(steps)
    inv, first = v.labels.group(["le"], without=True)
    groups = len(first)
    group_names = v.labels.take(first).value_strings(NAME)
    labels = v.labels.take(first).drop(["le", NAME])
    out = np.full((groups, steps), np.nan)
    present = np.zeros((groups, steps), dtype=bool)
    for s in range(steps):
        rows = np.flatnonzero(v.present[:, s])
        for g in np.unique(inv[rows]).tolist():
            members = rows[inv[rows] == g]
            buckets = list(zip(les[members].tolist(), v.values[members, s].tolist(), strict=True))
            out[g, s], forced = bucket_quantile(float(q[s]), buckets)
            present[g, s] = True
            if forced:
                ctx.notes.info(
                    "input to histogram_quantile needed to be fixed for monotonicity (see "
                    "https://prometheus.io/docs/prometheus/latest/querying/functions/"
                    f'#histogram_quantile) for metric name "{group_names[g]}"',
                    "histogram_quantile",
                    1,
                )
    result = StepVector(labels, out, present, np.zeros(groups, dtype=bool))
    _check_dupes(result)
    return result
