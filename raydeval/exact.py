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
