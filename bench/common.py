"""Shared by the benchmark modules: N, the process count of the decode-only floor's pool (and the
worker count of the 2-worker runs), and the median that every figure reports."""

from __future__ import annotations

import statistics

POOL_PROCESSES = 2


def median(values) -> float:
    return float(statistics.median(values))
