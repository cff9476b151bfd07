"""Cutting the joined sample table into shards: small dicts of NumPy arrays and lists."""

from __future__ import annotations

import math
from collections.abc import Iterator

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


def iter_shards(table: pa.Table, bounds: list[tuple[int, int]]) -> Iterator[dict]:
    """The shards of `table` at `bounds` as {column: ndarray | list}, built lazily."""
    for start, stop in bounds:
        yield to_columns(table.slice(start, stop - start))


def to_columns(table: pa.Table) -> dict:
    columns = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            columns[name] = col.to_numpy()
        else:
            columns[name] = col.to_pylist()
    return columns
