"""Shard invariance checks shared by the tests of the detection, asvspoof and temporal tasks: any
partition merged in any order, and 1 or 2 Ray workers with shards of 1 or all samples, give the
same state and the same result."""

from __future__ import annotations

import json
import random

from hypothesis import strategies as st

from raydeval.engine.shards import to_columns
from raydeval.evaluate import RunSettings, evaluate, prepare
from raydeval.state import State
from raydeval.tasks.base import Context


def prepared(task_name: str, gt: str, pred: str, conventions: dict | None = None):
    """(task, joined table, context) of one evaluation, without running it."""
    task, options, g, p, table = prepare(task_name, gt, pred, conventions or {}, RunSettings())
    return task, table, Context(options, g.uri, p.uri)


def state_of(task, table, ctx, cuts: list[int], order: list[int] | None = None) -> State:
    """The merged state of the shards cut at `cuts`, merged one by one in `order`."""
    edges = [0, *cuts, table.num_rows]
    states = [task.evaluate(to_columns(table.slice(a, b - a)), ctx)[0] for a, b in zip(edges, edges[1:])]
    merged = State()
    for i in order or range(len(states)):
        merged = merged.merge(states[i])
    return merged


def check_any_partition(task, table, ctx, data) -> None:
    """A hypothesis-drawn cut and merge order give the whole table's state and metrics."""
    whole = state_of(task, table, ctx, [])
    cuts = sorted(set(data.draw(st.lists(st.integers(0, table.num_rows), max_size=8))))
    n = len(cuts) + 1
    order = random.Random(data.draw(st.integers(0, 2**32 - 1))).sample(range(n), n)
    shuffled = state_of(task, table, ctx, cuts, order)
    assert shuffled == whole
    assert task.finalize(shuffled, ctx.options) == task.finalize(whole, ctx.options)


def check_workers_and_shard_sizes(task_name: str, gt: str, pred: str, rows: int, conventions: dict | None = None) -> dict:
    """1 and 2 Ray workers, shards of 1 and of all rows: identical metrics and counts (returned)."""
    outputs = set()
    for workers in (1, 2):
        for shard_size in (1, rows):
            r = evaluate(task_name, gt, pred, conventions or {},
                         RunSettings(address="local", workers=workers, shard_size=shard_size, progress=False))
            assert r["run"]["shards"] == -(-rows // shard_size) and r["run"]["ray"] != "in-process"
            outputs.add(json.dumps({"metrics": r["metrics"], "counts": r["counts"]}, sort_keys=True))
    assert len(outputs) == 1
    return json.loads(outputs.pop())
