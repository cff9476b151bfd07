"""Shards as Ray tasks: Ray schedules them, retries them when a worker or node dies, and keeps
a second shard queued per worker."""

from __future__ import annotations

import ray

from raydeval.engine.run import Outcome, ShardError, shard_state
from raydeval.errors import InputError, first_line
from raydeval.tasks import get_task
from raydeval.tasks.base import Context

MAX_RETRIES = 2  # a shard runs at most 3 times


def _attempt() -> int:
    """Which attempt of this task is running (0 = the first); 0 where Ray cannot say."""
    try:
        return int(ray._private.worker.global_worker.core_worker.get_current_task_attempt_number())
    except Exception:  # a private Ray API: absent or changed in another Ray version
        return 0


@ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=True)
def evaluate_shard(task_name: str, ctx: Context, shard: dict):
    """(state, problems, attempt) of one shard, or (None, message, attempt) for bad input, which is
    an answer, not a failure to retry. A stateless task: Ray reuses its worker processes (and their
    imports) across shards and evaluations."""
    attempt = _attempt()
    try:
        state, problems = shard_state(get_task(task_name), shard, ctx)
    except InputError as e:
        return None, str(e), attempt
    return state, problems, attempt


def ray_runner(task_name: str, ctx: Context, workers: int, gpus_per_shard: float = 0.0):
    """A runner (see `run.evaluate_shards`) of shards as Ray tasks, at most `workers` at a time.

    Where Ray's CPUs already cap the tasks at `workers`, a second shard per worker waits queued,
    so a worker starts its next shard without a round trip to this driver. With `gpus_per_shard`,
    each shard task reserves that share of a GPU (for --device gpu).
    """
    def run(shards):
        queued_per_worker = 2 if ray.cluster_resources().get("CPU", 0) <= workers else 1
        ctx_ref = ray.put(ctx)
        remote = evaluate_shard.options(num_gpus=gpus_per_shard) if gpus_per_shard else evaluate_shard
        pending: dict = {}

        def submit() -> None:
            for index, shard in shards:
                pending[remote.remote(task_name, ctx_ref, shard)] = index
                return

        try:
            for _ in range(max(1, workers) * queued_per_worker):
                submit()
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(ref)
                submit()  # keep the workers busy while this result is merged
                try:
                    state, problems, attempt = ray.get(ref)
                except ray.exceptions.RayTaskError as e:
                    raise ShardError(index, f"{type(e.cause).__name__}: {e.cause}", MAX_RETRIES + 1,
                                     str(e)) from None
                except ray.exceptions.RayError as e:  # the worker or its node died on every attempt
                    raise ShardError(index, f"{type(e).__name__}: {first_line(e)}",
                                     MAX_RETRIES + 1) from None
                if state is None:
                    raise InputError(problems)
                yield Outcome(index, state, problems, attempt)
        finally:  # on a failure: stop the shards still running, so that none writes after it
            for ref in pending:
                ray.cancel(ref, force=True)
            if pending:
                ray.wait(list(pending), num_returns=len(pending), timeout=10)
    return run
