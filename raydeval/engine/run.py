"""Evaluating the shards of a joined table — in this process or as Ray tasks — and merging their
states on the driver as they finish."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

import pyarrow as pa

from raydeval.analysis import extra_columns
from raydeval.engine.shards import to_columns
from raydeval.errors import InputError, Problems, ShardFailure
from raydeval.state import State
from raydeval.tasks import get_task
from raydeval.tasks.base import Context

MERGE_BATCH = 64


@dataclass
class Outcome:
    """What one shard gives back, and on which attempt (0 = first; more: Ray retried it)."""

    index: int
    state: State
    problems: Problems
    attempt: int = 0


class ShardError(Exception):
    """A runner's report of a shard that failed on every attempt."""

    def __init__(self, index: int, error: str, attempts: int, detail: str = ""):
        super().__init__(error)
        self.index, self.error, self.attempts, self.detail = index, error, attempts, detail


def shard_state(task, shard: dict, ctx: Context) -> tuple[State, Problems]:
    """The state of one shard (with the group cells, replicates and per-sample rows of
    `ctx.analysis`, when it asks for any)."""
    if ctx.analysis:
        from raydeval.analysis.shard import analysed_state

        return analysed_state(task, shard, ctx)
    return task.evaluate(shard, ctx)


def in_process_runner(task_name: str, ctx: Context):
    """A runner that evaluates shards one after another in this process."""
    def run(shards):
        task = get_task(task_name)
        for index, shard in shards:
            try:
                state, problems = shard_state(task, shard, ctx)
            except InputError:
                raise
            except Exception as e:
                raise ShardError(index, f"{type(e).__name__}: {e}", 1, traceback.format_exc()) from None
            yield Outcome(index, state, problems)
    return run


def _shard(columns: pa.Table, bounds: tuple[int, int]) -> dict:
    shard = to_columns(columns.slice(bounds[0], bounds[1] - bounds[0]))
    shard["_rows"] = bounds  # where the shard lies in the table (names its per-sample part)
    return shard


def evaluate_shards(task_name: str, table: pa.Table, ctx: Context, bounds: list[tuple[int, int]],
                    todo: list[int], runner, progress=None, on_state=None) -> tuple[State, Problems, int]:
    """Merged state, problems and number of retried shards of the shards `todo` (indexes into
    `bounds`), evaluated by `runner`. `on_state(index, state)` sees each shard without problems
    as it finishes (to persist it). A shard that fails on every attempt raises ShardFailure."""
    needed = get_task(task_name).shard_columns(table, ctx)
    columns = table.select(needed + [c for c in extra_columns(ctx.analysis) if c not in needed])
    shards = ((i, _shard(columns, bounds[i])) for i in todo)
    state, problems, finished, retried = State(), Problems(), [], 0
    try:
        for outcome in runner(shards):
            if on_state and not outcome.problems:
                on_state(outcome.index, outcome.state)
            finished.append(outcome.state)
            if len(finished) >= MERGE_BATCH:  # bounded memory, and per-score counts grouped in batches
                state, finished = State.merged([state, *finished]), []
            problems.merge(outcome.problems)
            retried += outcome.attempt > 0
            if progress:
                start, stop = bounds[outcome.index]
                progress.update(stop - start, retried=outcome.attempt > 0)
    except ShardError as e:
        start, stop = bounds[e.index]
        first_id = table.column("id")[start].as_py()
        attempts = f" on all {e.attempts} attempts" if e.attempts > 1 else ""
        samples = f"samples {start + 1}–{stop}" if stop - start > 1 else f"sample {stop}"
        raise ShardFailure(f"shard {e.index + 1} of {len(bounds)} ({samples}, first id {first_id}) "
                           f"failed{attempts}: {e.error}", e.detail) from None
    return State.merged([state, *finished]), problems, retried
