"""(a) The decode-only floor and (g) the single-process diagnostics of the benchmark harness.

The floor: the fastest decoder (pyspng for PNG, np.load for .npy, PyAV's Y plane for mask videos; see
`bench.kernels`) over the mask files of a workload in a warm pool of N=2 spawned processes, nothing
else. The diagnostics: the same decode loop in this process without a pool, and raydeval's task
kernel (`Task.evaluate` over the whole joined table) in this process without Ray.
"""

from __future__ import annotations

import multiprocessing
import time

from bench import kernels
from bench.common import POOL_PROCESSES


def image_files(info: dict) -> list[str]:
    """Every mask file raydeval decodes for the image workload (GT and prediction of each pair)."""
    return [p for _, gt, pred in info["pair_paths"] for p in (gt, pred) if p]


def video_files(info: dict) -> list[str]:
    return [p for _, gt, pred in info["pair_paths"] for p in (gt, pred) if p]


class FloorPool:
    """A warm pool of `processes` spawned processes (spawn: safe next to a running Ray) that times
    a decode kernel over a list of files, nothing else."""

    def __init__(self, processes: int = POOL_PROCESSES):
        self.processes = processes
        self.pool = multiprocessing.get_context("spawn").Pool(processes)
        self.pool.map(kernels.warm, range(processes * 4), chunksize=1)

    def time(self, paths: list[str], kernel) -> float:
        chunk = max(1, len(paths) // (16 * self.processes))
        clock = time.perf_counter()
        for _ in self.pool.imap_unordered(kernel, paths, chunksize=chunk):
            pass
        return time.perf_counter() - clock

    def close(self) -> None:
        self.pool.close()
        self.pool.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def decode_floor(paths: list[str], kernel, processes: int = POOL_PROCESSES, reps: int = 3) -> dict:
    """Wall times of `kernel` over `paths` in a warm pool of `processes` processes."""
    with FloorPool(processes) as pool:
        pool.time(paths[: processes * 2], kernel)  # page cache + first-call costs
        seconds = [pool.time(paths, kernel) for _ in range(reps)]
    return {"seconds": seconds, "files": len(paths), "processes": processes}


def decode_in_process(paths: list[str], kernel, reps: int = 3) -> dict:
    """(g) The same decode loop in this process (1 core): the per-file floor without a pool."""
    for p in paths[:2]:
        kernel(p)
    seconds = []
    for _ in range(reps):
        clock = time.perf_counter()
        for p in paths:
            kernel(p)
        seconds.append(time.perf_counter() - clock)
    return {"seconds": seconds, "files": len(paths)}


def task_kernel_in_process(task_name: str, info: dict, reps: int = 3) -> dict:
    """(g) raydeval's task kernel (Task.evaluate over the whole joined table) in this process."""
    from raydeval.engine.shards import to_columns
    from raydeval.evaluate import RunSettings, prepare
    from raydeval.tasks.base import Context

    task, options, gt, pred, table = prepare(task_name, info["gt"], info["pred"], {}, RunSettings())
    shard = to_columns(table)
    ctx = Context(options, gt.uri, pred.uri)
    seconds = []
    for _ in range(reps):
        clock = time.perf_counter()
        task.evaluate(shard, ctx)
        seconds.append(time.perf_counter() - clock)
    return {"seconds": seconds}
