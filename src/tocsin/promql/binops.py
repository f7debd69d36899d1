"""Binary operators: arithmetic, comparison and set operators with vector matching.

Matching works on groups, not on series: each side is grouped by its matching
signature with array operations, only the distinct signatures are compared as
Python tuples, and the per-step pairing is done with index arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import promql_parser as pp

from tocsin.errors import QueryError
from tocsin.promql.labels import NAME, LabelTable, format_labels
from tocsin.promql.values import F64, Scalars, StepVector

if TYPE_CHECKING:
    from tocsin.promql.engine import Ctx, Engine, Value

COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
SET_OPS = {"and", "or", "unless"}


def arith(op: str, a: F64, b: F64) -> F64:
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.true_divide(a, b)
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return np.power(a, b)
        if op == "atan2":
            return np.arctan2(a, b)
    raise QueryError(f"unknown binary operator {op!r}", kind="bad_data")


def compare(op: str, a: F64, b: F64) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == ">":
            return a > b
        if op == "<":
            return a < b
        if op == ">=":
            return a >= b
        return a <= b


def evaluate(engine: Engine, node: Any, ctx: Ctx) -> Value:
    op = str(node.op).strip()
    mod = node.modifier
    return_bool = bool(mod is not None and mod.return_bool)
    lhs = engine.eval(node.lhs, ctx)
    rhs = engine.eval(node.rhs, ctx)
    if isinstance(lhs, Scalars) and isinstance(rhs, Scalars):
        if op in COMPARISONS:
            return Scalars(compare(op, lhs.values, rhs.values).astype(np.float64))
        return Scalars(arith(op, lhs.values, rhs.values))
    if isinstance(lhs, StepVector) and isinstance(rhs, Scalars):
        return _vector_scalar(op, lhs, rhs.values[None, :], return_bool, swapped=False)
    if isinstance(lhs, Scalars) and isinstance(rhs, StepVector):
        return _vector_scalar(op, rhs, lhs.values[None, :], return_bool, swapped=True)
    if isinstance(lhs, StepVector) and isinstance(rhs, StepVector):
        if op in SET_OPS:
            return _set_op(op, lhs, rhs, mod)
        return _vector_vector(op, lhs, rhs, mod, return_bool)
    raise QueryError(f"operator {op} not defined on these operand types", kind="bad_data")


def _vector_scalar(op: str, v: StepVector, s: F64, return_bool: bool, swapped: bool) -> StepVector:
    a, b = (s, v.values) if swapped else (v.values, s)
    if op in COMPARISONS:
        hit = compare(op, np.broadcast_to(a, v.values.shape), np.broadcast_to(b, v.values.shape))
        if return_bool:
            return StepVector(v.labels, hit.astype(np.float64), v.present, np.ones(v.n, bool))
        out = StepVector(v.labels, v.values, v.present & hit, v.drop_name)
        return out.compact()
    vals = arith(op, np.broadcast_to(a, v.values.shape), np.broadcast_to(b, v.values.shape))
    return StepVector(v.labels, vals, v.present, np.ones(v.n, dtype=bool))


def _match_groups(
    lhs: LabelTable, rhs: LabelTable, on: bool, names: list[str]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp], int]:
    """Group both sides by matching signature.

    Returns (lhs group per row, rhs group per row, lhs group -> rhs group or -1,
    number of rhs groups).
    """
    if on:
        sig_names = sorted(set(names))
    else:
        skip = set(names) | {NAME}
        sig_names = sorted((set(lhs.cols) | set(rhs.cols)) - skip)
    inv_l, first_l = lhs.group(sig_names)
    inv_r, first_r = rhs.group(sig_names)
    sig_r = {s: g for g, s in enumerate(rhs.signatures(first_r, sig_names))}
    l_to_r = np.array([sig_r.get(s, -1) for s in lhs.signatures(first_l, sig_names)], dtype=np.intp)
    return inv_l, inv_r, l_to_r, len(first_r)


def _any_per_group(present: npt.NDArray[np.bool_], inv: npt.NDArray[np.intp], groups: int) -> Any:
    out = np.zeros((groups, present.shape[1]), dtype=bool)
    r, c = np.nonzero(present)
    out[inv[r], c] = True
    return out


def _matching(mod: Any) -> tuple[bool, list[str]]:
    if mod is None or mod.matching is None:
        return False, []
    return mod.matching.type == pp.LabelModifierType.Include, list(mod.matching.labels)


def _set_op(op: str, lhs: StepVector, rhs: StepVector, mod: Any) -> StepVector:
    on, names = _matching(mod)
    steps = lhs.values.shape[1]
    if op == "or":
        if lhs.n == 0:
            return rhs.compact()
        if rhs.n == 0:
            return lhs
        inv_r, inv_l, r_to_l, n_l = _match_groups(rhs.labels, lhs.labels, on, names)
        lhs_any = _any_per_group(lhs.present, inv_l, n_l)
        g = r_to_l[inv_r]
        covered = np.where((g >= 0)[:, None], lhs_any[np.maximum(g, 0)], False)
        right = StepVector(rhs.labels, rhs.values, rhs.present & ~covered, rhs.drop_name).compact()
        if right.n == 0:
            return lhs
        if lhs.n == 0:
            return right
        return StepVector(
            LabelTable.concat([lhs.labels, right.labels]),
            np.vstack([lhs.values, right.values]),
            np.vstack([lhs.present, right.present]),
            np.concatenate([lhs.drop_name, right.drop_name]),
        )
    if lhs.n == 0:
        return lhs
    inv_l, inv_r, l_to_r, n_r = _match_groups(lhs.labels, rhs.labels, on, names)
    rhs_any = _any_per_group(rhs.present, inv_r, n_r) if rhs.n else np.zeros((0, steps), bool)
    g = l_to_r[inv_l]
    matched = np.where((g >= 0)[:, None], rhs_any[np.maximum(g, 0)] if n_r else False, False)
    present = lhs.present & (matched if op == "and" else ~matched)
    return StepVector(lhs.labels, lhs.values, present, lhs.drop_name).compact()


def _vector_vector(
    op: str, lhs: StepVector, rhs: StepVector, mod: Any, return_bool: bool
) -> StepVector:
    on, names = _matching(mod)
    card = mod.card if mod is not None else pp.VectorMatchCardinality.OneToOne
    include = list(mod.group_labels or []) if mod is not None else []
    swap = card == pp.VectorMatchCardinality.OneToMany
    many, one = (rhs, lhs) if swap else (lhs, rhs)
    steps = lhs.values.shape[1]
    if many.n == 0 or one.n == 0:
        return StepVector.empty(steps)
    inv_m, inv_o, m_to_o, n_o = _match_groups(many.labels, one.labels, on, names)
    # The "one" side must have at most one series per signature and step.
    o_row = np.full((n_o, steps), -1, dtype=np.intp)
    r, c = np.nonzero(one.present)
    counts = np.bincount(inv_o[r] * steps + c, minlength=n_o * steps)
    if (counts > 1).any():
        cell = int(np.flatnonzero(counts > 1)[0])
        group, step = divmod(cell, steps)
        rows = r[(inv_o[r] == group) & (c == step)][:2]
        dupes = [one.labels.row(int(i)) for i in rows]
        if on:
            match = {k: v for k, v in dupes[0].items() if k in names}
        else:
            match = {k: v for k, v in dupes[0].items() if k not in names and k != NAME}
        side = "left" if swap else "right"
        raise QueryError(
            f"found duplicate series for the match group {format_labels(match)} on the "
            f"{side} hand-side of the operation: "
            f"[{format_labels(dupes[0])}, {format_labels(dupes[1])}]"
            ";many-to-many matching not allowed: matching labels must be unique on one side",
            kind="execution",
        )
    o_row[inv_o[r], c] = r
    g = m_to_o[inv_m]
    j = np.where((g >= 0)[:, None], o_row[np.maximum(g, 0)] if n_o else -1, -1)
    matched = many.present & (j >= 0)
    if card == pp.VectorMatchCardinality.OneToOne:
        mr, mc = np.nonzero(matched)
        mcount = np.bincount(inv_m[mr] * steps + mc, minlength=len(m_to_o) * steps)
        if (mcount > 1).any():
            raise QueryError(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)",
                kind="execution",
            )
    jc = np.maximum(j, 0)
    one_vals = one.values[jc, np.arange(steps)[None, :]]
    lv, rv = (one_vals, many.values) if swap else (many.values, one_vals)
    is_cmp = op in COMPARISONS
    if is_cmp:
        hit = compare(op, lv, rv)
        if return_bool:
            values, present = hit.astype(np.float64), matched
        else:
            values, present = lv, matched & hit
    else:
        values, present = arith(op, lv, rv), matched
    keep = present.any(axis=1)
    idx = np.flatnonzero(keep)
    labels = many.labels.take(idx)
    if card == pp.VectorMatchCardinality.OneToOne:
        labels = labels.keep(names) if on else labels.drop(names)
    if include:
        labels = _include(labels, one.labels, jc[idx], present[idx], include)
    drop = np.ones(len(idx), bool) if (return_bool or not is_cmp) else many.drop_name[idx]
    out = StepVector(labels, values[idx], present[idx], drop)
    if card != pp.VectorMatchCardinality.OneToOne:
        _check_unique(out)
    return out


def _include(
    labels: LabelTable, one: LabelTable, j: Any, present: Any, include: list[str]
) -> LabelTable:
    """Copy group_left/group_right labels from the matched "one"-side series."""
    first_step = np.argmax(present, axis=1)
    src = j[np.arange(len(j)), first_step] if len(j) else np.zeros(0, np.intp)
    for name in include:
        col = one.cols.get(name)
        if col is None:
            labels = labels.drop([name])
            continue
        codes, values = col
        labels = labels.with_column_codes(name, (codes[src], values))
    return labels


def _check_unique(sv: StepVector) -> None:
    if sv.n < 2:
        return
    inv, first = sv.labels.group(None)
    if len(first) == sv.n:
        return
    steps = sv.present.shape[1]
    r, c = np.nonzero(sv.present)
    if (np.bincount(inv[r] * steps + c, minlength=len(first) * steps) > 1).any():
        raise QueryError(
            "multiple matches for labels: grouping labels must ensure unique matches",
            kind="execution",
        )
