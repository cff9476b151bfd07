"""Cutting the joined sample table into shards: small dicts of NumPy arrays and lists."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pyarrow as pa

MAX_AUTO_SHARD = 65536
SHARDS_PER_WORKER = 8


def auto_shard_size(rows: int, workers: int) -> int:
    """About eight shards per worker, capped, so work balances and memory stays bounded."""
    return max(1, min(MAX_AUTO_SHARD, math.ceil(rows / (SHARDS_PER_WORKER * max(1, workers)))))


def shard_count(rows: int, shard_size: int) -> int:
    return math.ceil(rows / shard_size)


def iter_shards(table: pa.Table, shard_size: int) -> Iterator[dict]:
    """Consecutive row ranges of `table` as {column: ndarray | list}, built lazily."""
    for start in range(0, table.num_rows, shard_size):
        yield to_columns(table.slice(start, shard_size))


def to_columns(table: pa.Table) -> dict:
    columns = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            columns[name] = col.to_numpy()
        else:
            columns[name] = col.to_pylist()
    return columns
