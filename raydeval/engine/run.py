"""Evaluating the shards of a joined table — in this process or as Ray tasks — and merging their
states on the driver as they finish."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

import pyarrow as pa

from raydeval.analysis import Analysis, extra_columns
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


class TableRows:
    """The joined rows of an evaluation held in memory (see `streamed.StreamedRows` for the others)."""

    def __init__(self, table: pa.Table, analysis: Analysis):
        self.table, self.num_rows, self.column_names = table, table.num_rows, table.column_names
        self.analysis = analysis  # as prepared for these rows

    def close(self) -> None:
        """Nothing to release (like `StreamedRows.close`)."""

    def shards(self, bounds: list[tuple[int, int]], todo: list[int], columns: list[str]):
        """(index, shard) of the shards `todo`: dicts of the columns `columns`."""
        table = self.table.select(columns)
        for i in todo:
            start, stop = bounds[i]
            yield i, shard_columns(table.slice(start, stop - start), bounds[i])

    def first_id(self, bounds: tuple[int, int]) -> str:
        return self.table.column("id")[bounds[0]].as_py()


def shard_columns(table: pa.Table, bounds: tuple[int, int]) -> dict:
    """A shard: the columns of its rows, and where they lie (`_rows`, which names its per-sample part)."""
    shard = to_columns(table)
    shard["_rows"] = bounds
    return shard


def evaluate_shards(task_name: str, rows, ctx: Context, bounds: list[tuple[int, int]],
                    todo: list[int], runner, progress=None, on_state=None) -> tuple[State, Problems, int]:
    """Merged state, problems and number of retried shards of the shards `todo` (indexes into
    `bounds`) of the joined `rows` (TableRows or StreamedRows), evaluated by `runner`.
    `on_state(index, state)` sees each shard without problems as it finishes (to persist it). A
    shard that fails on every attempt raises ShardFailure."""
    needed = get_task(task_name).shard_columns(rows.column_names, ctx)
    shards = rows.shards(bounds, todo, needed + [c for c in extra_columns(ctx.analysis) if c not in needed])
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
        first_id = rows.first_id(bounds[e.index])
        attempts = f" on all {e.attempts} attempts" if e.attempts > 1 else ""
        samples = f"samples {start + 1}–{stop}" if stop - start > 1 else f"sample {stop}"
        raise ShardFailure(f"shard {e.index + 1} of {len(bounds)} ({samples}, first id {first_id}) "
                           f"failed{attempts}: {e.error}", e.detail) from None
    return State.merged([state, *finished]), problems, retried
