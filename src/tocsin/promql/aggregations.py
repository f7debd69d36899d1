"""Aggregation operators, grouped with np.unique and reduced with bincount/reduceat."""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import promql_parser as pp

from tocsin.errors import QueryError
from tocsin.promql.labels import NAME, LabelTable
from tocsin.promql.mathutil import go_float, kahan_sum, prom_avg, quantile
from tocsin.promql.values import F64, Scalars, StepVector, Str

if TYPE_CHECKING:
    from tocsin.promql.engine import Ctx, Engine

Idx = npt.NDArray[np.intp]
_LABEL_NAME_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")


def evaluate(engine: Engine, node: Any, ctx: Ctx) -> StepVector:
    op = str(node.op).strip()
    inner = engine.eval_vector(node.expr, ctx)
    param: Scalars | Str | None = None
    if node.param is not None:
        p = engine.eval(node.param, ctx)
        if not isinstance(p, Scalars | Str):
            raise QueryError(f"invalid parameter for {op}", kind="bad_data")
        param = p
    by: list[str] | None = None
    without = False
    if node.modifier is not None:
        without = node.modifier.type == pp.AggModifierType.Without
        by = list(node.modifier.labels)
    steps = ctx.steps
    inner = inner.compact()
    if op == "quantile":
        assert isinstance(param, Scalars)
        bad = param.values[np.isnan(param.values) | (param.values < 0) | (param.values > 1)]
        if len(bad):
            ctx.notes.warn(
                f"quantile value should be between 0 and 1, got {go_float(float(bad[0]))}",
                op,
                0,
            )
    if op == "limit_ratio":
        assert isinstance(param, Scalars)
        for r in param.values.tolist():
            if not math.isnan(r) and not -1 <= r <= 1:
                cap = 1 if r > 1 else -1
                ctx.notes.warn(
                    f"ratio value should be between -1 and 1, got {go_float(r)}, capping to {cap}",
                    op,
                    0,
                )
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):
        assert isinstance(param, Scalars)
        return _select_k(op, inner, param.values, by, without)
    if op == "count_values":
        assert isinstance(param, Str)
        return _count_values(inner, param.value, by, without)
    labels, inv, groups = _groups(inner.labels, by, without)
    if inner.n == 0:
        return StepVector.empty(steps)
    present = inner.present
    if steps == 1:
        flat_idx = inv if present.all() else inv[present[:, 0]]
    else:
        flat_idx = (inv[:, None] * steps + np.arange(steps)[None, :])[present]
    count = np.bincount(flat_idx, minlength=groups * steps).reshape(groups, steps)
    out_present = count > 0
    vals = inner.values

    def group_sum(x: F64) -> F64:
        summed = np.bincount(flat_idx, weights=x[present], minlength=groups * steps)
        return np.asarray(summed, dtype=np.float64).reshape(groups, steps)

    with np.errstate(all="ignore"):
        if op == "sum":
            result = _kahan_fix(group_sum(vals), vals, present, inv, groups)
        elif op == "count":
            result = count.astype(np.float64)
        elif op == "group":
            result = np.ones((groups, steps))
        elif op == "avg":
            result = _avg(vals, present, inv, groups, count)
        elif op in ("min", "max"):
            fill = np.where(present, vals, np.nan)
            ufunc = np.fmin if op == "min" else np.fmax
            result = _reduce(ufunc, fill, inv, groups)
        elif op in ("stddev", "stdvar"):
            mean = group_sum(vals) / np.maximum(count, 1)
            dev = vals - mean[inv]
            var = group_sum(dev * dev) / np.maximum(count, 1)
            fill = np.where(present, vals, np.nan)
            lowest = _reduce(np.fmin, fill, inv, groups)
            constant = (lowest == _reduce(np.fmax, fill, inv, groups)) & np.isfinite(lowest)
            var = np.where(constant, 0.0, var)
            result = np.sqrt(var) if op == "stddev" else var
        elif op == "quantile":
            assert isinstance(param, Scalars)
            result = _quantile(param.values, vals, present, inv, groups)
        else:
            raise QueryError(f"unsupported aggregation {op}", kind="bad_data")
    drop = np.bincount(inv, weights=inner.drop_name.astype(float), minlength=groups) > 0
    return StepVector(labels, result, out_present, drop)


def _groups(labels: LabelTable, by: list[str] | None, without: bool) -> tuple[LabelTable, Idx, int]:
    if by is None:
        return LabelTable.empty(1), np.zeros(labels.n, dtype=np.intp), 1
    if without:
        drop = [*by, NAME]
        inv, first = labels.group(drop, without=True)
        return labels.take(first).drop(drop), inv, len(first)
    inv, first = labels.group(by)
    return labels.take(first).keep(by), inv, len(first)


def _reduce(ufunc: Any, x: F64, inv: Idx, groups: int) -> F64:
    order = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[order], np.arange(groups))
    return np.asarray(ufunc.reduceat(x[order], starts, axis=0))


def _kahan_fix(total: F64, vals: F64, present: Any, inv: Idx, groups: int) -> F64:
    """bincount sums naively; redo exactly the groups where that may have lost
    precision (mixed magnitudes), like Prometheus' compensated sum."""
    finite = np.where(present, vals, 0.0)
    if not (finite < 0).any() or not (finite > 0).any():
        return total  # one sign only: nothing can cancel
    if not np.isfinite(finite).all():
        return total
    mag = _reduce(np.fmax, np.where(present, np.abs(vals), np.nan), inv, groups)
    suspect = np.argwhere(np.abs(total) * 1e12 < mag)
    for g, s in suspect.tolist():
        members = np.flatnonzero((inv == g) & present[:, s])
        total[g, s] = kahan_sum(vals[members, s])
    return total


def _avg(vals: F64, present: Any, inv: Idx, groups: int, count: Any) -> F64:
    steps = vals.shape[1]
    flat_idx = (inv[:, None] * steps + np.arange(steps)[None, :])[present]
    summed = np.bincount(flat_idx, weights=vals[present], minlength=groups * steps)
    total: F64 = np.asarray(summed, dtype=np.float64).reshape(groups, steps)
    total = _kahan_fix(total, vals, present, inv, groups)
    c = np.maximum(count, 1)
    result = total / c
    bad = ~np.isfinite(result)
    if bad.any():
        # Overflowing sums of finite values: average incrementally instead.
        for g, s in np.argwhere(bad).tolist():
            members = np.flatnonzero((inv == g) & present[:, s])
            xs = vals[members, s]
            if np.isfinite(xs).all():
                result[g, s] = prom_avg(xs)
    return result


def _quantile(q: F64, vals: F64, present: Any, inv: Idx, groups: int) -> F64:
    steps = vals.shape[1]
    out = np.full((groups, steps), np.nan)
    for s in range(steps):
        rows = np.flatnonzero(present[:, s])
        for g in np.unique(inv[rows]).tolist():
            out[g, s] = quantile(float(q[s]), vals[rows[inv[rows] == g], s])
    return out


def _k_of(v: float, op: str) -> int:
    if math.isnan(v):
        raise QueryError("Parameter value is NaN", kind="execution")
    if v >= 2**63 or v < -(2**63):
        raise QueryError(f"Scalar value {go_float(v)} overflows int64", kind="execution")
    return int(v)


def _label_hash_fraction(labels: LabelTable) -> F64:
    out = np.empty(labels.n)
    for i, row in enumerate(labels.rows()):
        text = "\xff".join(f"{k}\xff{v}" for k, v in sorted(row.items()))
        h = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        out[i] = h / 2.0**64
    return out


def _select_k(
    op: str, v: StepVector, param: F64, by: list[str] | None, without: bool
) -> StepVector:
    steps = v.values.shape[1]
    for s in range(steps):
        if op == "limit_ratio":
            if math.isnan(param[s]):
                raise QueryError("Ratio value is NaN", kind="execution")
        else:
            _k_of(float(param[s]), op)
    if v.n == 0:
        return StepVector.empty(steps)
    _, inv, _ = _groups(v.labels, by, without)
    keep = np.zeros_like(v.present)
    rank_out = np.zeros(v.present.shape, dtype=np.int64)
    ratio_pos = _label_hash_fraction(v.labels) if op == "limit_ratio" else None
    for s in range(steps):
        rows = np.flatnonzero(v.present[:, s])
        if len(rows) == 0:
            continue
        if op == "limit_ratio":
            r = float(param[s])
            if math.isnan(r):
                raise QueryError("Ratio value is NaN for limit_ratio", kind="execution")
            r = max(-1.0, min(1.0, r))
            assert ratio_pos is not None
            pos = ratio_pos[rows]
            chosen = pos < r if r >= 0 else pos >= 1.0 + r
            keep[rows[chosen], s] = True
            continue
        k = _k_of(float(param[s]), op)
        if k < 1:
            continue
        x = v.values[rows, s]
        if op == "topk":
            primary = np.where(np.isnan(x), np.inf, -x)
        elif op == "bottomk":
            primary = np.where(np.isnan(x), np.inf, x)
        else:
            primary = np.zeros(len(rows))
        order = np.lexsort((primary, inv[rows]))
        grp = inv[rows][order]
        starts = np.searchsorted(grp, grp, side="left")
        rank = np.arange(len(order)) - starts
        keep[rows[order][rank < k], s] = True
        rank_out[rows[order], s] = rank
    out = StepVector(v.labels, v.values, keep, v.drop_name)
    if steps == 1 and op in ("topk", "bottomk"):
        idx = np.flatnonzero(keep[:, 0])
        order = np.lexsort((rank_out[idx, 0], inv[idx]))
        return out.take(idx[order])
    return out.compact()


def _count_values(v: StepVector, label: str, by: list[str] | None, without: bool) -> StepVector:
    if not label or label[0] not in _LABEL_NAME_START or not label.replace("_", "a").isalnum():
        raise QueryError(f"invalid label name {label!r}", kind="execution")
    steps = v.values.shape[1]
    if v.n == 0:
        return StepVector.empty(steps)
    labels, inv, _ = _groups(v.labels, by, without)
    group_rows = labels.rows()
    key_index: dict[tuple[int, str], int] = {}
    out_rows: list[dict[str, str]] = []
    cells: list[tuple[int, int]] = []
    for s in range(steps):
        for i in np.flatnonzero(v.present[:, s]).tolist():
            key = (int(inv[i]), go_float(float(v.values[i, s])))
            k = key_index.get(key)
            if k is None:
                k = key_index[key] = len(out_rows)
                row = dict(group_rows[key[0]])
                row[label] = key[1]
                out_rows.append(row)
            cells.append((k, s))
    values = np.zeros((len(out_rows), steps))
    present = np.zeros((len(out_rows), steps), dtype=bool)
    for k, s in cells:
        values[k, s] += 1
        present[k, s] = True
    return StepVector(
        LabelTable.from_dicts(out_rows), values, present, np.zeros(len(out_rows), bool)
    )
