"""Exactness (SPEC §2.5): any sharding, merge order, permutation, worker count gives the same bits."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from raydeval.engine.shards import to_columns
from raydeval.evaluate import RunSettings, evaluate, prepare
from raydeval.exact import exact_sum_units, mean_from_units
from raydeval.state import ScoreCounts, State
from raydeval.tasks.base import Context
from tests import gen

TASKS = list(gen.BENCHMARKS)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Each task's joined table and context, from one random benchmark of real files."""
    out = {}
    for i, task in enumerate(TASKS):
        root = tmp_path_factory.mktemp(task)
        gt, pred, *_ = gen.BENCHMARKS[task](str(root), 200 + i, n=24)
        t, options, g, p, table = prepare(task, gt, pred, {}, RunSettings())
        out[task] = (t, table, Context(options, g.uri, p.uri))
    return out


def _state_of(task, table, ctx, bounds, order):
    """Evaluate the shards cut at `bounds`, merged in `order`."""
    edges = [0, *bounds, table.num_rows]
    states = [task.evaluate(to_columns(table.slice(a, b - a)), ctx)[0] for a, b in zip(edges, edges[1:])]
    merged = State()
    for i in order(len(states)):
        merged = merged.merge(states[i])
    return merged


def _cuts(n):
    return st.lists(st.integers(0, n), max_size=8).map(lambda c: sorted(set(c)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@pytest.mark.parametrize("task_name", TASKS)
def test_any_partition_any_order(prepared, task_name, data):
    task, table, ctx = prepared[task_name]
    whole = _state_of(task, table, ctx, [], lambda n: range(n))
    bounds = data.draw(_cuts(table.num_rows))
    seed = data.draw(st.integers(0, 2**32 - 1))
    shuffled = _state_of(task, table, ctx, bounds, lambda n: random.Random(seed).sample(range(n), n))
    assert shuffled == whole
    assert task.finalize(shuffled, ctx.options) == task.finalize(whole, ctx.options)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("task_name", TASKS)
def test_permuting_samples_changes_nothing(prepared, task_name, seed):
    task, table, ctx = prepared[task_name]
    order = np.random.default_rng(seed).permutation(table.num_rows)
    permuted = table.take(pa.array(order))
    assert (_state_of(task, permuted, ctx, [], lambda n: range(n))
            == _state_of(task, table, ctx, [], lambda n: range(n)))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(0, 1) | st.sampled_from([0.0, 1.0, 2**-53, 5e-324, 1 / 3]), max_size=60),
       cut=st.integers(0, 60))
def test_exact_sum_merges_exactly(values, cut):
    from fractions import Fraction
    whole = exact_sum_units(values)
    assert exact_sum_units(values[:cut]) + exact_sum_units(values[cut:]) == whole
    assert whole == sum(Fraction(v) for v in values) * 2**1074
    if values:
        assert mean_from_units(whole, len(values)) == float(sum(Fraction(v) for v in values) / len(values))


def test_fsum_of_fsums_would_not_be_exact():
    """The trap the exact sum avoids: per-shard fsum then fsum differs from the true sum."""
    import math
    values = [1.0, 2**-53, 2**-53]
    assert math.fsum([math.fsum(values[:2]), math.fsum(values[2:])]) != mean_from_units(exact_sum_units(values), 1)


@settings(max_examples=100, deadline=None)
@given(scores=st.lists(st.sampled_from([0.0, -0.0, 0.1, 0.5, 0.7, 1.0]), min_size=1, max_size=40),
       data=st.data())
def test_score_counts_merge_order_free(scores, data):
    labels = data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores)))
    cut = data.draw(st.integers(0, len(scores)))
    whole = ScoreCounts.of(scores, labels)
    a, b = ScoreCounts.of(scores[:cut], labels[:cut]), ScoreCounts.of(scores[cut:], labels[cut:])
    assert ScoreCounts.merged([a, b]) == whole == ScoreCounts.merged([b, a])
    assert int(whole.pos.sum()) == sum(labels)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_workers_and_shard_sizes_give_identical_bytes(ray_local, tmp_path, task):
    """On Ray with 1 and 2 workers and in this process, for shard sizes 1, 7 and all."""
    gt, pred, *_ = gen.BENCHMARKS[task](str(tmp_path), 300, n=20)
    outputs = set()
    for address, workers in (("local", 1), ("local", 2), (None, 0)):
        for shard_size in (1, 7, 10_000):
            r = evaluate(task, gt, pred, {}, RunSettings(address=address, workers=workers, shard_size=shard_size,
                                                         progress=False))
            assert r["run"]["shards"] == -(-20 // shard_size)
            assert r["run"]["ray"] == (address or "in-process")
            outputs.add(json.dumps({"metrics": r["metrics"], "counts": r["counts"]}, sort_keys=True))
    assert len(outputs) == 1
