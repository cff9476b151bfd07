"""Bootstrap replicates that depend only on the seed and the sample ids (Poisson bootstrap).

Replicate r draws sample i w_ri times, w_ri ~ Poisson(1), independently: the classic multinomial
draw of n out of n needs every sample at once, the Poisson draw needs only the sample itself, so a
shard computes its samples' weights alone and the replicates merge like any other state. w_ri is
the inverse Poisson CDF of a 64-bit uniform: SplitMix64 of the sample's key (BLAKE2b of its id,
keyed by the seed) stepped by the replicate number — the same on every machine, for any sharding
and order.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from math import factorial

import numpy as np

from raydeval.exact import exact_weighted_sums
from raydeval.samples import Samples
from raydeval.state import Replicates

BLOCK = 64  # replicates weighted at a time (bounded memory: BLOCK x shard rows)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _poisson_thresholds(terms: int = 24) -> np.ndarray:
    """floor(2**64 · P(Poisson(1) <= k)) for k = 0.., exact (e^-1 as a rational series)."""
    inv_e = sum(Fraction((-1) ** n, factorial(n)) for n in range(40))
    cdf, out = Fraction(0), []
    for k in range(terms):
        cdf += inv_e / factorial(k)
        out.append(min(int(cdf * 2**64), 2**64 - 1))
    return np.array(out, dtype=np.uint64)


THRESHOLDS = _poisson_thresholds()


def sample_keys(ids, seed: int) -> np.ndarray:
    """A 64-bit key per sample id (BLAKE2b keyed by the seed)."""
    key = seed.to_bytes(16, "little")
    return np.fromiter((int.from_bytes(hashlib.blake2b(str(i).encode("utf-8"), digest_size=8, key=key).digest(),
                                       "little") for i in ids), dtype=np.uint64, count=len(ids))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


COMMON = 4  # weights 0..COMMON counted by comparisons; the rare larger ones looked up


def weights(keys: np.ndarray, first: int, count: int) -> np.ndarray:
    """Poisson(1) weights of replicates first..first+count-1 (rows) for the samples' keys (columns):
    the number of thresholds at or below each uniform, i.e. the inverse CDF."""
    out = np.empty((count, keys.size), dtype=np.uint8)
    with np.errstate(over="ignore"):
        for row in range(count):
            u = _splitmix64(keys ^ np.uint64((first + row + 1) * int(_GOLDEN) % 2**64))
            w = out[row]
            np.greater_equal(u, THRESHOLDS[0], out=w, casting="unsafe")
            for threshold in THRESHOLDS[1:COMMON]:
                w += u >= threshold
            rare = np.flatnonzero(u >= THRESHOLDS[COMMON - 1])  # P ≈ 0.019: the tail, exactly
            w[rare] = np.searchsorted(THRESHOLDS, u[rare], side="right")
    return out


def replicates(samples: Samples, keys: np.ndarray, n_replicates: int, grid: np.ndarray | None,
               masks: dict) -> dict:
    """Replicates of the samples selected by each mask of `masks` (key -> bool mask or None = all):
    counts and exact sums per replicate, and per-score counts on `grid` when given."""
    count_keys = [*samples.counts, *(m.count for m in samples.means.values())]
    out = {key: Replicates({k: np.zeros(n_replicates, np.int64) for k in count_keys},
                           {m.key: [0] * n_replicates for m in samples.means.values()},
                           np.zeros((n_replicates, grid.size, 2), np.int64) if grid is not None else None)
           for key in masks}
    counts = np.stack([samples.counts[k] for k in samples.counts], axis=1).astype(np.int64)
    slot = None
    if grid is not None:
        slot = np.searchsorted(grid, samples.scores + 0.0) * 2 + (~samples.labels.astype(bool)).astype(np.int64)
    for first in range(0, n_replicates, BLOCK):
        block = weights(keys, first, min(BLOCK, n_replicates - first))
        rows = slice(first, first + block.shape[0])
        for key, mask in masks.items():
            w = block if mask is None else block[:, mask]
            rep = out[key]
            products = _exact_product(w, counts if mask is None else counts[mask])
            for j, name in enumerate(samples.counts):
                rep.counts[name][rows] = products[:, j]
            for mean in samples.means.values():
                values = mean.values if mask is None else mean.values[mask]
                entering = ~np.isnan(values)
                rep.sums[mean.key][rows] = exact_weighted_sums(values[entering], w[:, entering])
                rep.counts[mean.count][rows] = w[:, entering].sum(axis=1, dtype=np.int64)
            if slot is not None:
                where = slot if mask is None else slot[mask]
                for i in range(w.shape[0]):
                    rep.scores[first + i] = np.bincount(where, weights=w[i], minlength=2 * grid.size).reshape(-1, 2)
    return out


def _exact_product(w: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """w @ matrix in exact integers (one float64 product while every partial sum stays below 2**53)."""
    bound = int(np.abs(matrix).max(initial=0)) * int(w.sum(axis=1, dtype=np.int64).max(initial=0))
    if bound < 2**53:
        return (w.astype(np.float64) @ matrix.astype(np.float64)).astype(np.int64)
    return w.astype(np.int64) @ matrix
