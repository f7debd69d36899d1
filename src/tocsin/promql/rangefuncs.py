"""Functions over range vectors (rate, *_over_time, deriv, ...).

Simple reductions run on all windows of all series at once with
`ufunc.reduceat` over the flat sample arrays; the rest loop over non-empty
windows with small numpy/Python kernels that follow Prometheus exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from tocsin.errors import QueryError
from tocsin.promql.mathutil import go_float, kahan_sum, prom_avg, prom_stdvar, quantile
from tocsin.promql.values import F64, I64, RangeVector

Bools = npt.NDArray[np.bool_]

RANGE_FUNCS = {
    "rate",
    "increase",
    "delta",
    "irate",
    "idelta",
    "deriv",
    "changes",
    "resets",
    "sum_over_time",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "count_over_time",
    "last_over_time",
    "first_over_time",
    "present_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "mad_over_time",
    "ts_of_last_over_time",
    "ts_of_first_over_time",
    "ts_of_min_over_time",
    "ts_of_max_over_time",
}
PARAM_RANGE_FUNCS = {"quantile_over_time", "predict_linear", "double_exponential_smoothing"}


def _reduceat(
    ufunc: np.ufunc, vals: F64, lo: npt.NDArray[np.intp], hi: npt.NDArray[np.intp]
) -> F64:
    if len(vals) == 0:
        return np.full(lo.shape, np.nan)
    ext = np.append(vals, 0.0)
    idx = np.stack([lo.ravel(), hi.ravel()], axis=1).ravel()
    return np.asarray(ufunc.reduceat(ext, idx)[::2].reshape(lo.shape))


def apply(name: str, rv: RangeVector, params: list[F64], step_times: I64) -> tuple[F64, Bools]:
    lo, hi = rv.lo, rv.hi
    count = hi - lo
    present = count > 0
    if rv.n == 0:
        return np.zeros(lo.shape), present
    last_idx = np.maximum(hi - 1, 0)
    with np.errstate(all="ignore"):
        if name == "count_over_time":
            return count.astype(np.float64), present
        if name == "present_over_time":
            return np.ones(lo.shape), present
        if name == "last_over_time":
            return rv.vals[last_idx], present
        if name == "first_over_time":
            return rv.vals[np.minimum(lo, len(rv.vals) - 1)], present
        if name == "ts_of_last_over_time":
            return rv.ts[last_idx] / 1000.0, present
        if name == "ts_of_first_over_time":
            return rv.ts[np.minimum(lo, len(rv.ts) - 1)] / 1000.0, present
        if name in ("min_over_time", "max_over_time"):
            ufunc = np.fmin if name == "min_over_time" else np.fmax
            return _reduceat(ufunc, rv.vals, lo, hi), present
        if name in ("sum_over_time", "avg_over_time"):
            total = _reduceat(np.add, rv.vals, lo, hi)
            mag = _reduceat(np.fmax, np.abs(rv.vals), lo, hi)
            suspect = (
                present & np.isfinite(mag) & ((np.abs(total) * 1e12 < mag) | ~np.isfinite(total))
            )
            for i, j in np.argwhere(suspect).tolist():
                xs = rv.vals[lo[i, j] : hi[i, j]]
                total[i, j] = kahan_sum(xs) if name == "sum_over_time" else prom_avg(xs) * len(xs)
            if name == "sum_over_time":
                return total, present
            avg = total / np.maximum(count, 1)
            for i, j in np.argwhere(suspect).tolist():
                avg[i, j] = prom_avg(rv.vals[lo[i, j] : hi[i, j]])
            return avg, present
    if name in _VECTORISED:
        with np.errstate(all="ignore"):
            return _VECTORISED[name](rv)
    kernel, needs = _KERNELS[name]
    out = np.full(lo.shape, np.nan)
    ok = np.zeros(lo.shape, dtype=bool)
    if name == "double_exponential_smoothing":
        _check_smoothing(params)
    for i, j in np.argwhere(count >= needs).tolist():
        a, b = int(lo[i, j]), int(hi[i, j])
        r = kernel(rv.ts[a:b], rv.vals[a:b], rv, j, [p[j] for p in params], int(step_times[j]))
        if r is not None:
            out[i, j] = r
            ok[i, j] = True
    return out, ok


def _pair_sum(per_pair: F64, rv: RangeVector) -> F64:
    """Sum of per_pair[j] over j in (lo, hi): quantities about (sample j-1, sample j)."""
    return _reduceat(np.add, per_pair, np.minimum(rv.lo + 1, rv.hi), rv.hi)


def _vector_extrapolated(
    is_counter: bool, is_rate: bool
) -> Callable[[RangeVector], tuple[F64, Bools]]:
    """rate/increase/delta for all windows at once (same maths as _extrapolated)."""

    def run(rv: RangeVector) -> tuple[F64, Bools]:
        lo, hi = rv.lo, rv.hi
        n = hi - lo
        ok = n >= 2
        last = np.maximum(hi - 1, 0)
        first = np.minimum(lo, max(len(rv.vals) - 1, 0))
        v0, v1 = rv.vals[first], rv.vals[last]
        t0, t1 = rv.ts[first], rv.ts[last]
        result = v1 - v0
        if is_counter:
            prev = np.concatenate([[0.0], rv.vals[:-1]])
            drops = np.where(rv.vals < prev, prev, 0.0)
            result = result + np.where(ok, _pair_sum(drops, rv), 0.0)
        range_end = rv.times[None, :].astype(np.int64)
        d_start = (t0 - (range_end - rv.range_ms)) / 1000
        d_end = (range_end - t1) / 1000
        sampled = (t1 - t0) / 1000
        avg = sampled / np.maximum(n - 1, 1)
        threshold = avg * 1.1
        d_start = np.where(d_start >= threshold, avg / 2, d_start)
        if is_counter:
            to_zero = sampled * (v0 / result)
            d_start = np.where((result > 0) & (v0 >= 0), np.minimum(d_start, to_zero), d_start)
        d_end = np.where(d_end >= threshold, avg / 2, d_end)
        factor = (sampled + d_start + d_end) / sampled
        if is_rate:
            factor = factor / (rv.range_ms / 1000)
        return result * factor, ok

    return run


def _vector_instant(is_rate: bool) -> Callable[[RangeVector], tuple[F64, Bools]]:
    def run(rv: RangeVector) -> tuple[F64, Bools]:
        n = rv.hi - rv.lo
        last = np.maximum(rv.hi - 1, 0)
        prev = np.maximum(rv.hi - 2, 0)
        v1, v0 = rv.vals[last], rv.vals[prev]
        interval = rv.ts[last] - rv.ts[prev]
        ok = (n >= 2) & (interval != 0)
        result = np.where(is_rate & (v1 < v0), v1, v1 - v0)
        if is_rate:
            result = result / (interval / 1000)
        return result, ok

    return run


def _vector_changes(resets: bool) -> Callable[[RangeVector], tuple[F64, Bools]]:
    def run(rv: RangeVector) -> tuple[F64, Bools]:
        prev = np.concatenate([[np.nan], rv.vals[:-1]])
        if resets:
            hit = rv.vals < prev
        else:
            hit = ~((rv.vals == prev) | (np.isnan(rv.vals) & np.isnan(prev)))
        n = rv.hi - rv.lo
        counts = np.where(n >= 2, _pair_sum(hit.astype(np.float64), rv), 0.0)
        return counts, n >= 1

    return run


_VECTORISED: dict[str, Callable[[RangeVector], tuple[F64, Bools]]] = {
    "rate": _vector_extrapolated(True, True),
    "increase": _vector_extrapolated(True, False),
    "delta": _vector_extrapolated(False, False),
    "irate": _vector_instant(True),
    "idelta": _vector_instant(False),
    "changes": _vector_changes(False),
    "resets": _vector_changes(True),
}


Kernel = Callable[[I64, F64, RangeVector, int, list[float], int], float | None]


def _extrapolated(is_counter: bool, is_rate: bool) -> Kernel:
    def kernel(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
        n = len(vs)
        range_end = int(rv.times[j])
        range_start = range_end - rv.range_ms
        result = float(vs[-1] - vs[0])
        if is_counter:
            prev = vs[:-1]
            result += float(prev[vs[1:] < prev].sum())
        d_start = (int(ts[0]) - range_start) / 1000
        d_end = (range_end - int(ts[-1])) / 1000
        sampled = (int(ts[-1]) - int(ts[0])) / 1000
        avg = sampled / (n - 1)
        threshold = avg * 1.1
        if d_start >= threshold:
            d_start = avg / 2
        if is_counter and result > 0 and vs[0] >= 0:
            d_start = min(d_start, sampled * (float(vs[0]) / result))
        if d_end >= threshold:
            d_end = avg / 2
        factor = (sampled + d_start + d_end) / sampled
        if is_rate:
            factor /= rv.range_ms / 1000
        return result * factor

    return kernel


def _instant(is_rate: bool) -> Kernel:
    def kernel(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
        last, prev = float(vs[-1]), float(vs[-2])
        result = last if is_rate and last < prev else last - prev
        interval = int(ts[-1]) - int(ts[-2])
        if interval == 0:
            return None
        if is_rate:
            result /= interval / 1000
        return result

    return kernel


def _linreg(ts: I64, vs: F64, intercept_ms: int) -> tuple[float, float]:
    if (vs == vs[0]).all():
        if math.isinf(vs[0]):
            return math.nan, math.nan
        return 0.0, float(vs[0])
    x = (ts - intercept_ms) / 1e3
    n = float(len(vs))
    sx = math.fsum(x.tolist())
    sy = kahan_sum(vs)
    sxy = kahan_sum(x * vs)
    sx2 = math.fsum((x * x).tolist())
    cov = sxy - sx * sy / n
    var = sx2 - sx * sx / n
    slope = cov / var
    return slope, sy / n - slope * sx / n


def _deriv(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
    return _linreg(ts, vs, int(ts[0]))[0]


def _predict_linear(
    ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int
) -> float | None:
    slope, intercept = _linreg(ts, vs, st)
    return slope * p[0] + intercept


def _changes(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
    a, b = vs[1:], vs[:-1]
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return float((~same).sum())


def _resets(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
    return float((vs[1:] < vs[:-1]).sum())


def _stdvar(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
    return prom_stdvar(vs)


def _stddev(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
    var = _stdvar(ts, vs, rv, j, p, st)
    return math.sqrt(var) if var is not None else None


def _quantile_ot(
    ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int
) -> float | None:
    return quantile(p[0], vs)


def _mad(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
    if np.isnan(vs).any():
        return math.nan
    med = quantile(0.5, vs)
    return quantile(0.5, np.abs(vs - med))


def _ts_of(pick_max: bool) -> Kernel:
    def kernel(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
        best = None
        best_t = 0
        for t, v in zip(ts.tolist(), vs.tolist(), strict=True):
            if best is None or math.isnan(best) or (v >= best if pick_max else v <= best):
                if math.isnan(v) and best is not None:
                    continue
                best, best_t = v, t
        return best_t / 1000.0

    return kernel


def _check_smoothing(params: list[F64]) -> None:
    for sf in params[0].tolist():
        if not 0 < sf < 1:
            raise QueryError(
                f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}", kind="execution"
            )
    for tf in params[1].tolist():
        if not 0 < tf < 1:
            raise QueryError(
                f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}", kind="execution"
            )


def _smoothing(ts: I64, vs: F64, rv: RangeVector, j: int, p: list[float], st: int) -> float | None:
    sf, tf = p
    s0, s1 = 0.0, float(vs[0])
    b = float(vs[1] - vs[0])
    for i in range(1, len(vs)):
        x = sf * float(vs[i])
        if i > 1:
            b = tf * (s1 - s0) + (1 - tf) * b
        y = (1 - sf) * (s1 + b)
        s0, s1 = s1, x + y
    return s1


_KERNELS: dict[str, tuple[Kernel, int]] = {
    "rate": (_extrapolated(True, True), 2),
    "increase": (_extrapolated(True, False), 2),
    "delta": (_extrapolated(False, False), 2),
    "irate": (_instant(True), 2),
    "idelta": (_instant(False), 2),
    "deriv": (_deriv, 2),
    "predict_linear": (_predict_linear, 2),
    "changes": (_changes, 1),
    "resets": (_resets, 1),
    "stddev_over_time": (_stddev, 1),
    "stdvar_over_time": (_stdvar, 1),
    "quantile_over_time": (_quantile_ot, 1),
    "mad_over_time": (_mad, 1),
    "double_exponential_smoothing": (_smoothing, 2),
    "ts_of_max_over_time": (_ts_of(True), 1),
    "ts_of_min_over_time": (_ts_of(False), 1),
}

__all__ = ["PARAM_RANGE_FUNCS", "RANGE_FUNCS", "apply", "go_float"]
