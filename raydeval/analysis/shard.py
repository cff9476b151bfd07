"""The worker's side of the analyses: a shard's state with its group cells and bootstrap
replicates, and its per-sample rows written as one Parquet part."""

from __future__ import annotations

import numpy as np

from raydeval.analysis import MISSING, Analysis
from raydeval.analysis import bootstrap, per_sample
from raydeval.errors import Problems
from raydeval.samples import Samples, sum_state
from raydeval.state import State


def analysed_state(task, shard: dict, ctx) -> tuple[State, Problems]:
    """The state of one shard, with the cells, replicates and per-sample part `ctx.analysis` asks for."""
    analysis: Analysis = ctx.analysis
    if not task.has_samples:  # group cells only: each evaluated on its own rows
        return _cells_by_subsets(task, shard, ctx, analysis)
    samples, problems = task.samples(shard, ctx)
    masks = {None: None, **_cell_masks(samples, shard, analysis)}
    states = {key: sum_state(samples, mask) for key, mask in masks.items()}
    if analysis.bootstrap:
        keys = bootstrap.sample_keys(shard["id"], analysis.seed)
        for key, rep in bootstrap.replicates(samples, keys, analysis.bootstrap, analysis.grid, masks).items():
            states[key].replicates = rep
    state = states.pop(None)
    state.cells = states
    if analysis.per_sample:
        per_sample.write_part(analysis, samples, shard, ctx.storage_options)
    return state, problems


def _cell_masks(samples: Samples, shard: dict, analysis: Analysis) -> dict:
    """(column, value, part) -> the samples of that cell; parts are `all`, or with shared negatives
    `fake` (the group's fake samples) and one `real` cell per column (every real sample)."""
    masks = {}
    fake = (samples.counts["tp"] + samples.counts["fn"]) > 0
    for column in analysis.group_by:
        keys = _group_keys(shard[f"group:{column}"])
        if analysis.shared_negatives:
            for value in np.unique(keys[fake]).tolist():
                masks[(column, value, "fake")] = (keys == value) & fake
            masks[(column, "", "real")] = ~fake
        else:
            for value in np.unique(keys).tolist():
                masks[(column, value, "all")] = keys == value
    return masks


def _group_keys(values) -> np.ndarray:
    return np.array([MISSING if v is None else v for v in values], dtype=object)


def _cells_by_subsets(task, shard: dict, ctx, analysis: Analysis) -> tuple[State, Problems]:
    """Group cells of a task without per-sample values: each cell evaluates its own rows; the
    shard's state is the sum of the first column's cells."""
    cells, problems, whole = {}, Problems(), None
    for column in analysis.group_by:
        keys = _group_keys(shard[f"group:{column}"])
        parts = []
        for value in np.unique(keys).tolist():
            rows = np.flatnonzero(keys == value)
            state, found = task.evaluate(_take(shard, rows), ctx)
            cells[(column, value, "all")] = state
            parts.append(state)
            if whole is None:
                problems.merge(found)
        whole = whole or State.merged(parts)
    whole.cells = cells
    return whole, problems


def _take(shard: dict, rows: np.ndarray) -> dict:
    """The given rows of a shard (its columns are NumPy arrays or lists; `_rows` is not a column)."""
    return {name: values[rows] if isinstance(values, np.ndarray) else
            [values[i] for i in rows.tolist()] if isinstance(values, list) else values
            for name, values in shard.items()}
