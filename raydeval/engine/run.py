"""Evaluating shards as Ray tasks and merging their states on the driver."""

from __future__ import annotations

import sys
import time

import pyarrow as pa
import ray

from raydeval.engine.shards import iter_shards
from raydeval.errors import InputError, Problems
from raydeval.state import State
from raydeval.tasks import get_task
from raydeval.tasks.base import Context


MERGE_BATCH = 64


def ensure_ray(address: str | None, workers: int) -> str:
    """Join `address`, or start an embedded local Ray with `workers` CPUs; returns the mode."""
    if not ray.is_initialized():
        if address:
            try:
                ray.init(address=address, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise InputError(f"--address {address}: cannot join the Ray cluster: {e}") from None
        else:
            ray.init(address="local", num_cpus=workers, include_dashboard=False, logging_level="ERROR")
    return address or "local"


@ray.remote(num_cpus=1, max_retries=2)
def evaluate_shard(task_name: str, ctx: Context, shard: dict) -> tuple[State, Problems]:
    """The state of one shard. A stateless task: Ray reuses its worker processes (and their
    imports) across shards and evaluations, and retries it if a worker dies."""
    return get_task(task_name).evaluate(shard, ctx)


def evaluate_table(task_name: str, table: pa.Table, ctx: Context, workers: int,
                   bounds: list[tuple[int, int]], progress: "Progress | None" = None,
                   gpus_per_shard: float = 0.0) -> tuple[State, Problems]:
    """Merged state and problems of the shards of `table` at `bounds` (at most `workers` at a time).

    Where Ray's CPUs already cap the tasks at `workers`, a second shard per worker waits queued,
    so a worker starts its next shard without a round trip to this driver. With `gpus_per_shard`,
    each shard task reserves that share of a GPU (for --device gpu).
    """
    needed = get_task(task_name).shard_columns(table, ctx)
    shards = iter_shards(table.select(needed), bounds)
    queued_per_worker = 2 if ray.cluster_resources().get("CPU", 0) <= workers else 1
    ctx_ref = ray.put(ctx)
    remote = evaluate_shard.options(num_gpus=gpus_per_shard) if gpus_per_shard else evaluate_shard
    pending: dict = {}

    def submit() -> None:
        for shard in shards:
            pending[remote.remote(task_name, ctx_ref, shard)] = len(next(iter(shard.values())))
            return

    for _ in range(max(1, workers) * queued_per_worker):
        submit()
    state, problems, finished = State(), Problems(), []
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        rows = pending.pop(ref)
        submit()  # keep the workers busy while this result is merged
        try:
            shard_state, shard_problems = ray.get(ref)
        except ray.exceptions.RayTaskError as e:
            if isinstance(e.cause, InputError):  # e.g. a device the worker cannot use
                raise e.cause from None
            raise
        finished.append(shard_state)
        if len(finished) >= MERGE_BATCH:  # bounded memory, and per-score counts grouped in batches
            state, finished = State.merged([state, *finished]), []
        problems.merge(shard_problems)
        if progress:
            progress.update(rows)
    return State.merged([state, *finished]), problems


class Progress:
    """Shards and samples done, rate and ETA on stderr (redrawn on a terminal, sparse in logs)."""

    def __init__(self, label: str, samples: int, shards: int):
        self.label, self.samples, self.shards = label, samples, shards
        self.done_samples = self.done_shards = 0
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, rows: int) -> None:
        self.done_samples += rows
        self.done_shards += 1
        now = time.monotonic()
        finished = self.done_shards == self.shards
        if finished or now - self.last >= (0.5 if self.tty else 10.0):
            self.last = now
            rate = self.done_samples / max(now - self.start, 1e-9)
            eta = (self.samples - self.done_samples) / rate if rate else 0.0
            line = (f"{self.label}: shards {self.done_shards}/{self.shards}, samples "
                    f"{self.done_samples}/{self.samples}, {rate:,.0f} samples/s, ETA {eta:.0f}s")
            end = "\n" if finished or not self.tty else ""
            print(("\r" if self.tty else "") + line, end=end, file=sys.stderr, flush=True)
