"""Cutting the joined sample table into shards: small dicts of NumPy arrays and lists."""

from __future__ import annotations

import math

import pyarrow as pa

MAX_AUTO_SHARD = 65536
GUIDED_DIVISOR = 2  # an automatic shard takes 1/(2·workers) of the rows not yet cut
MIN_SHARDS_PER_WORKER = 64  # ... but at least rows/(64·workers) rows


def shard_bounds(rows: int, workers: int, shard_size: int = 0) -> list[tuple[int, int]]:
    """Row ranges [start, stop) of the shards: `shard_size` rows each, or automatic sizes.

    Automatic sizes are guided: each shard takes a fixed share of the rows left, so shards start
    large (few round trips, bounded by MAX_AUTO_SHARD) and end small (workers finish together).
    """
    workers = max(1, workers)
    smallest = max(1, math.ceil(rows / (MIN_SHARDS_PER_WORKER * workers)))
    bounds, start = [], 0
    while start < rows:
        size = shard_size or min(MAX_AUTO_SHARD, max(smallest, (rows - start) // (GUIDED_DIVISOR * workers)))
        bounds.append((start, min(rows, start + size)))
        start += size
    return bounds


def to_columns(table: pa.Table) -> dict:
    columns = {}
    for name in table.column_names:
        col = table.column(name)
        if name.startswith("meta:"):  # GT metadata written per sample: its own type, nulls and all
            columns[name] = col.combine_chunks()
        elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            columns[name] = col.to_numpy()
        else:
            columns[name] = col.to_pylist()
    return columns


def encode_cut(bounds: list[tuple[int, int]]) -> list[list[int]]:
    """A cut as runs of [shard size, number of shards] (compact for any cut, stored in the ledger)."""
    runs: list[list[int]] = []
    for start, stop in bounds:
        if runs and runs[-1][0] == stop - start:
            runs[-1][1] += 1
        else:
            runs.append([stop - start, 1])
    return runs


def decode_cut(runs, rows: int) -> list[tuple[int, int]]:
    """The bounds of `encode_cut`'s runs; ValueError unless they cut exactly `rows` rows."""
    if not isinstance(runs, list) or not all(
            isinstance(r, list) and len(r) == 2 and all(type(v) is int and v > 0 for v in r) for r in runs):
        raise ValueError("a cut is a list of [size, count] pairs of positive integers")
    if sum(size * count for size, count in runs) != rows:
        raise ValueError(f"the cut does not cover {rows} rows")
    bounds, start = [], 0
    for size, count in runs:
        for _ in range(count):
            bounds.append((start, start + size))
            start += size
    return bounds
