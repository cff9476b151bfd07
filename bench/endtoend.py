"""(b), (e), (f) raydeval end to end, as measured by the benchmark harness.

Ray's start from a stopped Ray (and Ray's first, no-op task); timed `evaluate()` runs with their split
into phases, taken by wrapping the functions that `raydeval.evaluate` looks up (`split_timers`); one
untimed run that samples the peak RSS of the driver and of Ray's worker processes (`memory_run`);
one-shot runs in fresh Python processes (`one_shot_fresh` starts `python -m bench.harness --child
...`, whose body is `child_run`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

from bench.common import POOL_PROCESSES, median
from bench.memory import DriverPeak, Sampler, status_kib, worker_hwm


# --- (b) raydeval end to end ---------------------------------------------------------------

def _nothing() -> None:
    return None


_SESSION = None  # the embedded Ray the harness started (raydeval's way: a temp folder of its own)


def start_ray(cpus: int) -> None:
    """An embedded Ray with `cpus` CPUs, started as `raydeval eval` starts it, left running."""
    global _SESSION
    import ray

    from raydeval.engine.session import RaySession

    if not ray.is_initialized():
        _SESSION = RaySession("local", cpus)
        _SESSION.start()


def stop_ray() -> None:
    """Stop the running Ray (and remove its temp folder if the harness started it)."""
    global _SESSION
    import ray

    if _SESSION:
        _SESSION.close()
        _SESSION = None
    else:
        ray.shutdown()


def ray_start(reps: int = 3, workers: int = POOL_PROCESSES) -> dict:
    """Seconds of `start_ray(workers)` from a stopped Ray, then of Ray's first task (a no-op:
    Ray's own cost of a first task), `reps` times; leaves Ray running."""
    import ray

    seconds, first_tasks, stops = [], [], []
    for _ in range(reps):
        if ray.is_initialized():
            clock = time.perf_counter()
            stop_ray()
            stops.append(time.perf_counter() - clock)
        clock = time.perf_counter()
        start_ray(workers)
        seconds.append(time.perf_counter() - clock)
        clock = time.perf_counter()
        ray.get(ray.remote(_nothing).remote())
        first_tasks.append(time.perf_counter() - clock)
    return {"seconds": seconds, "first_task_seconds": first_tasks, "shutdown_seconds": stops}


def restart_ray(cpus: int) -> None:
    """An embedded Ray with `cpus` CPUs (restarted unless it already has that many)."""
    import ray

    if ray.is_initialized() and ray.cluster_resources().get("CPU") != cpus:
        stop_ray()
    start_ray(cpus)


@contextlib.contextmanager
def split_timers():
    """Times the phases of one `evaluate()` call by wrapping the functions it looks up
    (module attributes of raydeval.evaluate / raydeval.engine.run, RaySession.start; restored
    afterwards)."""
    import raydeval.engine.run as run_mod
    import raydeval.evaluate as ev
    from raydeval.engine.session import RaySession
    from raydeval.state import State

    times = {"prepare": 0.0, "ensure_ray": 0.0, "shards": 0.0, "shard_build": 0.0, "merge": 0.0}
    originals = (ev._joined_rows, RaySession.start, ev.evaluate_shards, run_mod.to_columns, State.__dict__["merged"])

    def timed(key, fn):
        def wrapper(*args, **kwargs):
            clock = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[key] += time.perf_counter() - clock
        return wrapper

    ev._joined_rows = timed("prepare", originals[0])
    RaySession.start = timed("ensure_ray", originals[1])
    ev.evaluate_shards = timed("shards", originals[2])
    run_mod.to_columns = timed("shard_build", originals[3])
    State.merged = staticmethod(timed("merge", State.merged))
    try:
        yield times
    finally:
        ev._joined_rows, RaySession.start, ev.evaluate_shards, run_mod.to_columns, State.merged = originals


def raydeval_once(task_name: str, info: dict, workers: int, conventions: dict | None = None) -> dict:
    """One timed evaluation: wall time, its split and the driver's peak-RSS growth."""
    from raydeval.evaluate import RunSettings, evaluate

    settings = RunSettings(address="local", workers=workers, progress=False)
    with split_timers() as split, DriverPeak() as peak:
        clock = time.perf_counter()
        result = evaluate(task_name, info["gt"], info["pred"], conventions or {}, settings)
        wall = time.perf_counter() - clock
    return {"wall": wall, "run_seconds": result["run"]["seconds"], **split,
            "other": wall - split["prepare"] - split["ensure_ray"] - split["shards"],
            "driver_growth_mib": peak.growth_mib, "result": result}


def summarize(runs: list[dict], workers: int) -> dict:
    """Medians of the timed runs of one variant, its last result and whether all results agree."""
    out = {"runs": runs, "workers": workers}
    for key in ("wall", "prepare", "ensure_ray", "shards", "shard_build", "merge", "other", "driver_growth_mib"):
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = median(values) if values else None
    out["result"] = runs[-1]["result"]
    return out


def run_raydeval(task_name: str, info: dict, workers: int, reps: int = 3, conventions: dict | None = None,
                 memory: bool = False) -> dict:
    """`reps` timed evaluations; with `memory`, one more untimed run that samples the peak RSS
    (VmHWM) of Ray's worker processes (they run raydeval's `evaluate_shard` tasks)."""
    out = summarize([raydeval_once(task_name, info, workers, conventions) for _ in range(reps)], workers)
    if memory:
        out.update(memory_run(task_name, info, workers, conventions))
    return out


def memory_run(task_name: str, info: dict, workers: int, conventions: dict | None = None) -> dict:
    """One untimed evaluation with a sampler of the worker processes' VmHWM (every 50 ms)."""
    from raydeval.evaluate import RunSettings, evaluate

    sampler = Sampler(worker_hwm("ray::"), 0.05)
    sampler.start()
    try:
        with DriverPeak() as peak:
            evaluate(task_name, info["gt"], info["pred"], conventions or {},
                     RunSettings(address="local", workers=workers, progress=False))
    finally:
        sampler.stop()
    kib = list(sampler.peaks.values())
    return {"driver_peak_growth_mib": peak.growth_mib,
            "driver_rss_mib": (status_kib("self", "VmRSS") or 0) / 1024,
            "worker_peak_mib": max(kib) / 1024 if kib else None, "worker_processes": len(kib)}


# --- (e) one-shot runs in fresh processes --------------------------------------------------

def one_shot_fresh(task_name: str, info: dict, workers: int = POOL_PROCESSES, reps: int = 3,
                   shard_size: int = 0) -> dict:
    """A one-shot run per repetition, each in a fresh Python process (as the CLI runs): Ray start,
    the time from Ray start to the first shard's state on the driver, one `evaluate()`, and the
    driver's peak-RSS growth over that evaluation (clean allocator)."""
    import subprocess

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = []
    for _ in range(reps):
        proc = subprocess.run([sys.executable, "-m", "bench.harness", "--child", task_name, info["gt"], info["pred"],
                               str(workers), str(shard_size)], cwd=repo, capture_output=True, text=True, timeout=600)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"child run failed ({proc.returncode}): {proc.stderr[-2000:]}")
        runs.append(json.loads(lines[-1]))
    return {key: median([r[key] for r in runs]) for key in runs[0]} | {"reps": len(runs)}


def child_run(task_name: str, gt: str, pred: str, workers: int, shard_size: int = 0) -> None:
    """One evaluation in this fresh process. With `shard_size` 0 Ray is started first and the
    evaluation is timed alone; otherwise it runs in the CLI's order (manifests read and validated,
    then Ray started, then shards) and `first_shard` counts from the start of Ray's start. Ray's
    shutdown is not timed (the session outlives the evaluation)."""
    import raydeval.evaluate as ev
    from raydeval.engine.progress import Progress
    from raydeval.engine.session import RaySession

    marks = {}
    start = RaySession.start

    class FirstShard(Progress):
        def update(self, rows: int, retried: bool = False) -> None:
            marks.setdefault("first_shard", time.perf_counter())

    def timed_start(self):
        marks.setdefault("ray_began", time.perf_counter())
        mode = start(self)
        marks.setdefault("ray_ready", time.perf_counter())
        return mode

    ev.Progress, RaySession.start = FirstShard, timed_start
    session = RaySession("local", workers)
    if not shard_size:
        session.start()
    with split_timers() as split, DriverPeak() as peak:
        clock = time.perf_counter()
        ev.evaluate(task_name, gt, pred, {}, ev.RunSettings(address="local", workers=workers, shard_size=shard_size,
                                                           progress=True), session=session)
        wall = time.perf_counter() - clock
    session.close()
    print(json.dumps({"ray_start": marks["ray_ready"] - marks["ray_began"],
                      "first_shard": marks["first_shard"] - marks["ray_began"], "wall": wall,
                      "prepare": split["prepare"], "shards": split["shards"],
                      "driver_growth_mib": peak.growth_mib,
                      "driver_hwm_mib": (status_kib("self", "VmHWM") or 0) / 1024}), flush=True)
