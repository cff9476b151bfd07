"""Evaluating shards on a pool of Ray actors and merging their states on the driver."""

from __future__ import annotations

import os
import sys
import time

import pyarrow as pa
import ray

from raydeval.engine.shards import iter_shards, shard_count
from raydeval.errors import Problems
from raydeval.state import State
from raydeval.tasks import get_task
from raydeval.tasks.base import Context

IN_FLIGHT_PER_WORKER = 2


def ensure_ray(address: str | None, workers: int) -> str:
    """Join `address`, or start an embedded local Ray sized for `workers`; returns the mode."""
    if not ray.is_initialized():
        if address:
            ray.init(address=address, logging_level="ERROR")
        else:
            ray.init(address="local", num_cpus=max(workers, os.cpu_count() or 1),
                     include_dashboard=False, logging_level="ERROR")
    return address or "local"


@ray.remote(num_cpus=1, max_restarts=1, max_task_retries=2)
class ShardWorker:
    """Evaluates shards of one task; holds one shard's media at a time."""

    def __init__(self, task_name: str, ctx: Context):
        self.task = get_task(task_name)
        self.ctx = ctx

    def run(self, index: int, shard: dict) -> tuple[int, State, Problems]:
        state, problems = self.task.evaluate(shard, self.ctx)
        return index, state, problems


def evaluate_table(task_name: str, table: pa.Table, ctx: Context, workers: int, shard_size: int,
                   progress: "Progress | None" = None) -> tuple[State, Problems, int]:
    """Merged state and problems of all shards of `table`, and the number of shards."""
    total = shard_count(table.num_rows, shard_size)
    pool = [ShardWorker.remote(task_name, ctx) for _ in range(max(1, min(workers, total)))]
    needed = get_task(task_name).shard_columns(table, ctx)
    shards = enumerate(iter_shards(table.select(needed), shard_size))
    pending: dict = {}

    def submit(actor) -> None:
        for index, shard in shards:
            pending[actor.run.remote(index, shard)] = (actor, len(next(iter(shard.values()))))
            return

    for actor in pool:
        for _ in range(IN_FLIGHT_PER_WORKER):
            submit(actor)
    state, problems = State(), Problems()
    try:
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            actor, rows = pending.pop(ref)
            _, shard_state, shard_problems = ray.get(ref)
            state = state.merge(shard_state)
            problems.merge(shard_problems)
            submit(actor)
            if progress:
                progress.update(rows)
    finally:
        for actor in pool:
            ray.kill(actor)
    return state, problems, total


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
