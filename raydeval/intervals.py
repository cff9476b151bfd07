"""Half-open [start, end) frame intervals: sorted, disjoint lists of pairs."""

from __future__ import annotations

import numpy as np


def merged(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted union of intervals (overlapping or touching ones joined)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(pairs):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def is_canonical(pairs: list[tuple[int, int]]) -> bool:
    """Sorted and non-overlapping (touching allowed)."""
    return all(a[1] <= b[0] for a, b in zip(pairs, pairs[1:]))


def total(pairs: list[tuple[int, int]]) -> int:
    return sum(end - start for start, end in pairs)


def overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """|A ∩ B| in frames for two sorted disjoint interval lists."""
    i = j = inter = 0
    while i < len(a) and j < len(b):
        inter += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return inter


def frame_mask(pairs: list[tuple[int, int]], num_frames: int) -> np.ndarray:
    """Boolean per-frame membership."""
    out = np.zeros(num_frames, dtype=bool)
    for start, end in pairs:
        out[start:end] = True
    return out
