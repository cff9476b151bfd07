"""Exact arithmetic for mergeable sums of float64 values (SPEC §2.5).

A sum is kept as a Python int in units of 2**-1074 (the smallest float64 step), so adding
sums from any number of shards in any order is exact, and turning the total into a mean
rounds once.
"""

from __future__ import annotations

import numpy as np

_EXP_OFFSET = 1074 - 53  # value = mant * 2**(exp - 53) = mant * 2**(exp + 1021) units of 2**-1074
_HALF = 1 << 26
_CHUNK = 1 << 25  # per-bin sums of < 2**26 halves of 26 bits stay below 2**52: exact in float64


def exact_sum_units(values) -> int:
    """Exact sum of finite float64 values, in units of 2**-1074."""
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size and not np.isfinite(a).all():
        raise ValueError("exact sums need finite values")
    total = 0
    for start in range(0, a.size, _CHUNK):
        mantissa, exponent = np.frexp(a[start:start + _CHUNK])
        mant = (mantissa * (1 << 53)).astype(np.int64)  # exact: |mantissa| < 1
        bins = (exponent + _EXP_OFFSET).astype(np.int64)
        sign = np.sign(mant)
        mag = np.abs(mant)
        subnormal = bins < 0  # their mantissas end in zeros: shifting right is exact
        mag[subnormal] >>= -bins[subnormal]
        bins[subnormal] = 0
        for part, shift in ((mag & (_HALF - 1), 0), (mag >> 26, 26)):
            sums = np.bincount(bins, weights=(sign * part).astype(np.float64))
            for exp_bin in np.flatnonzero(sums):
                total += int(sums[exp_bin]) << (int(exp_bin) + shift)
    return total


def mean_from_units(total_units: int, n: int) -> float:
    """Correctly rounded float64 of (exact sum) / n."""
    return total_units / (n << 1074)


def exact_weighted_sums(values, weights: np.ndarray) -> list[int]:
    """For each row w of `weights` (small non-negative integers, one column per value), the exact
    Σ w_i·values_i of finite float64 values, in units of 2**-1074.

    The values' 53-bit mantissas are split into 26- and 27-bit halves and grouped by binary
    exponent; one float64 matrix product per group then sums them exactly (every partial sum
    stays below 2**53 while Σ w_i < 2**26)."""
    a = np.asarray(values, dtype=np.float64).ravel()
    weights = np.asarray(weights)
    totals = [0] * weights.shape[0]
    if not a.size:
        return totals
    if a.size == 1:
        return [int(w) * exact_sum_units(a) for w in weights[:, 0].tolist()]
    if int(weights.sum(axis=1).max(initial=0)) >= _HALF:  # too many values at once: sum them in halves
        half = a.size // 2
        return [x + y for x, y in zip(exact_weighted_sums(a[:half], weights[:, :half]),
                                      exact_weighted_sums(a[half:], weights[:, half:]))]
    mantissa, exponent = np.frexp(a)
    mant = (mantissa * (1 << 53)).astype(np.int64)
    bins = (exponent + _EXP_OFFSET).astype(np.int64)
    subnormal = bins < 0
    mant[subnormal] = np.sign(mant[subnormal]) * (np.abs(mant[subnormal]) >> -bins[subnormal])
    bins[subnormal] = 0
    sign, mag = np.sign(mant), np.abs(mant)
    distinct = np.unique(bins)
    halves = np.zeros((a.size, 2 * distinct.size))
    column = np.searchsorted(distinct, bins)
    rows = np.arange(a.size)
    halves[rows, 2 * column] = sign * (mag & (_HALF - 1))
    halves[rows, 2 * column + 1] = sign * (mag >> 26)
    sums = weights.astype(np.float64) @ halves  # exact: integers below 2**53
    for r in range(weights.shape[0]):
        total = 0
        for j, exp_bin in enumerate(distinct.tolist()):
            total += (int(sums[r, 2 * j]) << exp_bin) + (int(sums[r, 2 * j + 1]) << (exp_bin + 26))
        totals[r] = total
    return totals
