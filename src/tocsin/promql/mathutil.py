"""Numeric helpers that must behave exactly like Prometheus' Go code."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import numpy.typing as npt


def go_float(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, no exponent."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = format(Decimal(repr(v)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def quantile(q: float, values: npt.NDArray[np.float64]) -> float:
    """Prometheus' quantile: linear interpolation between closest ranks."""
    if len(values) == 0 or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    # Go sorts NaN first.
    nan = np.isnan(values)
    xs = np.concatenate([values[nan], np.sort(values[~nan])])
    n = len(xs)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return float(xs[lower] * (1 - weight) + xs[upper] * weight)


def almost_equal(a: float, b: float, eps: float) -> bool:
    """Prometheus' util/almost.Equal."""
    if a == b:
        return True
    min_normal = 2.2250738585072014e-308
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < min_normal:
        return diff < eps * min_normal
    return diff / min(abs_sum, 1.7976931348623157e308) < eps


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> tuple[float, bool]:
    """Quantile from classic (upper bound, cumulative count) buckets.

    Returns (quantile, whether decreasing counts had to be forced monotonic).
    """
    if math.isnan(q):
        return math.nan, False
    if q < 0:
        return -math.inf, False
    if q > 1:
        return math.inf, False
    buckets = sorted(buckets, key=lambda b: b[0])
    if not buckets or not math.isinf(buckets[-1][0]) or buckets[-1][0] < 0:
        return math.nan, False
    # Merge buckets with the same upper bound.
    merged: list[list[float]] = []
    for ub, c in buckets:
        if merged and merged[-1][0] == ub:
            merged[-1][1] += c
        else:
            merged.append([ub, c])
    # Force monotonic counts, ignoring tiny float noise.
    forced = False
    prev = merged[0][1]
    for b in merged[1:]:
        cur = b[1]
        if cur == prev:
            continue
        if almost_equal(prev, cur, 1e-12):
            b[1] = prev
            continue
        if cur < prev:
            b[1] = prev
            forced = True
            continue
        prev = cur
    if len(merged) < 2:
        return math.nan, forced
    observations = merged[-1][1]
    if observations == 0 or math.isnan(observations):
        return math.nan, forced
    rank = q * observations
    idx = len(merged) - 1
    for i in range(len(merged) - 1):
        if merged[i][1] >= rank:
            idx = i
            break
    if idx == len(merged) - 1:
        return merged[-2][0], forced
    if idx == 0 and merged[0][0] <= 0:
        return merged[0][0], forced
    start = 0.0
    end = merged[idx][0]
    count = merged[idx][1]
    if idx > 0:
        start = merged[idx - 1][0]
        count -= merged[idx - 1][1]
        rank -= merged[idx - 1][1]
    return start + (end - start) * (rank / count), forced


def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """One step of Prometheus' Kahan-Neumaier summation."""
    t = total + inc
    if math.isinf(t):
        c = 0.0
    elif abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def kahan_sum(xs: npt.NDArray[np.float64]) -> float:
    """Sum exactly as Prometheus does (compensated, same rounding)."""
    total, c = 0.0, 0.0
    for x in xs.tolist():
        total, c = kahan_inc(x, total, c)
    return total + c


def prom_avg(xs: npt.NDArray[np.float64]) -> float:
    """Mean as Prometheus computes it: compensated sum, switching to an
    incremental mean when the sum would overflow."""
    total, c, mean = 0.0, 0.0, 0.0
    incremental = False
    count = 0.0
    for i, x in enumerate(xs.tolist()):
        count = float(i + 1)
        if not incremental:
            new_total, new_c = kahan_inc(x, total, c)
            if not math.isinf(new_total):
                total, c = new_total, new_c
                continue
            incremental = True
            mean = total / (count - 1)
            c /= count - 1
        q = (count - 1) / count
        mean, c = kahan_inc(x / count, q * mean, q * c)
    if incremental:
        return mean + c
    return (total + c) / count if count else math.nan


def prom_stdvar(xs: npt.NDArray[np.float64]) -> float:
    """Population variance as Prometheus computes it (Welford, compensated)."""
    count = 0.0
    mean, c_mean, aux, c_aux = 0.0, 0.0, 0.0, 0.0
    for x in xs.tolist():
        count += 1
        delta = x - (mean + c_mean)
        mean, c_mean = kahan_inc(delta / count, mean, c_mean)
        aux, c_aux = kahan_inc(delta * (x - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count if count else math.nan
