"""Half-open [start, end) frame intervals: sorted, disjoint lists of pairs."""

from __future__ import annotations


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


def intersection(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A ∩ B of two sorted disjoint interval lists, sorted and disjoint."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """|A ∩ B| in frames for two sorted disjoint interval lists."""
    return total(intersection(a, b))
