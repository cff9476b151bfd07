"""Benchmark harness: raydeval against its decode-only floor, a naive loop and Ray Data.

    python -m bench.harness --out bench/RESULTS.md [--scale S] [--reps 3] [--data /tmp/raydeval-bench]

One run measures, with medians of `--reps` repetitions:
  (a) the decode-only floor: the fastest decoder (pyspng for PNG, np.load for .npy, PyAV's Y plane
      for mask videos) over the same files in a pool of N=2 processes, nothing else;
  (b) raydeval end to end (`raydeval.evaluate.evaluate`) with 1 and 2 workers (each in an embedded
      Ray of that many CPUs, as the CLI starts it): total wall time and
      its split (Ray start timed separately first; manifest read+validate; shard work; finalize);
  (c) the naive loop: Pillow decode + scikit-learn f1_score per image pair, one process;
  (d) raydeval's per-pair kernel through Ray Data `map_batches` (skipped if ray.data is missing);
  (e) 1M vs 100k label rows (audio task): wall time in this process, and driver peak-RSS growth of
      one-shot runs in fresh processes (as the CLI runs); start-up: a fresh process evaluating the
      images in shards of 1 sample in the CLI's order, from Ray's start to the first shard's state;
  (f) peak RSS of the driver and of raydeval's worker processes (one extra, untimed run each);
  (g) diagnostics: the same decoders and raydeval's task kernel in one process without Ray, and
      the fixed cost of one evaluation of a tiny manifest.
It checks that all variants agree on the metrics they share and writes a Markdown report.

The functions below are also used at a tiny scale by tests/test_bench_smoke.py.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import multiprocessing
import os
import platform
import shlex
import statistics
import sys
import threading
import time

import numpy as np

from bench import generate, kernels
from raydeval.io.result import write_atomic

MIB = 1 << 20
POOL_PROCESSES = 2
TARGETS = {
    "image_vs_floor": 0.90,
    "image_vs_naive": 25.0,
    "startup_s": 4.0,
    "scaling_1_to_2": 1.8,
    "video_vs_floor": 0.85,
    "labels_extra_s": 1.0,
    "labels_extra_rss_mib": 200.0,
}


# --- small helpers -------------------------------------------------------------------------

def median(values) -> float:
    return float(statistics.median(values))


def image_files(info: dict) -> list[str]:
    """Every mask file raydeval decodes for the image workload (GT and prediction of each pair)."""
    return [p for _, gt, pred in info["pair_paths"] for p in (gt, pred) if p]


def video_files(info: dict) -> list[str]:
    return [p for _, gt, pred in info["pair_paths"] for p in (gt, pred) if p]


def video_frame_pairs(info: dict) -> int:
    return len(info["pair_paths"]) * info["frames"]


def _status_kib(pid: int | str, field: str) -> int | None:
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM), or None where unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class DriverPeak:
    """Peak RSS growth of this process over a block: resets VmHWM through /proc/self/clear_refs
    (Linux >= 4.0), else samples RSS with psutil every 2 ms."""

    def __init__(self):
        self.growth_mib: float | None = None
        self.method = ""

    def __enter__(self):
        self.before = _status_kib("self", "VmRSS")
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            self.method = "VmHWM after clear_refs"
            self._sampler = None
        except OSError:
            self.method = "psutil sampling (2 ms)"
            self._sampler = _Sampler(lambda: {"self": _status_kib("self", "VmRSS") or 0}, 0.002)
            self._sampler.start()
        return self

    def __exit__(self, *exc):
        if self._sampler is None:
            peak = _status_kib("self", "VmHWM")
        else:
            self._sampler.stop()
            peak = self._sampler.peaks.get("self", 0)
        if peak is not None and self.before is not None:
            self.growth_mib = (peak - self.before) / 1024
        return False


class _Sampler(threading.Thread):
    """Polls `probe()` (pid -> KiB) every `interval` s and keeps each key's maximum."""

    def __init__(self, probe, interval: float):
        super().__init__(daemon=True)
        self.probe, self.interval = probe, interval
        self.peaks: dict = {}
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self._take()
            self._stop_event.wait(self.interval)

    def _take(self):
        for key, value in self.probe().items():
            if value is not None:
                self.peaks[key] = max(self.peaks.get(key, 0), value)

    def stop(self):
        self._stop_event.set()
        self.join()
        self._take()


def _worker_hwm(pattern: str):
    """Probe: VmHWM (KiB) of descendant processes whose command line contains `pattern`."""
    import psutil

    me = psutil.Process()

    def probe():
        out = {}
        for p in me.children(recursive=True):
            try:
                if pattern in " ".join(p.cmdline()):
                    out[p.pid] = _status_kib(p.pid, "VmHWM")
            except (psutil.Error, OSError):
                continue
        return out

    return probe


# --- (a) decode-only floor -----------------------------------------------------------------

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


# --- (b) raydeval end to end ---------------------------------------------------------------

def _nothing() -> None:
    return None


def ray_start(reps: int = 3, workers: int = POOL_PROCESSES) -> dict:
    """Seconds of `ensure_ray(None, workers)` from a stopped Ray, then of Ray's first task (a
    no-op: Ray's own cost of a first task), `reps` times; leaves Ray running."""
    import ray

    from raydeval.engine.run import ensure_ray

    seconds, first_tasks, stops = [], [], []
    for _ in range(reps):
        if ray.is_initialized():
            clock = time.perf_counter()
            ray.shutdown()
            stops.append(time.perf_counter() - clock)
        clock = time.perf_counter()
        ensure_ray(None, workers)
        seconds.append(time.perf_counter() - clock)
        clock = time.perf_counter()
        ray.get(ray.remote(_nothing).remote())
        first_tasks.append(time.perf_counter() - clock)
    return {"seconds": seconds, "first_task_seconds": first_tasks, "shutdown_seconds": stops}


def _restart_ray(cpus: int) -> None:
    """An embedded Ray with `cpus` CPUs (restarted unless it already has that many)."""
    import ray

    from raydeval.engine.run import ensure_ray

    if ray.is_initialized() and ray.cluster_resources().get("CPU") != cpus:
        ray.shutdown()
    ensure_ray(None, cpus)


@contextlib.contextmanager
def split_timers():
    """Times the phases of one `evaluate()` call by wrapping the functions it looks up
    (module attributes of raydeval.evaluate / raydeval.engine.run; restored afterwards)."""
    import raydeval.engine.run as run_mod
    import raydeval.evaluate as ev
    from raydeval.state import State

    times = {"prepare": 0.0, "ensure_ray": 0.0, "shards": 0.0, "shard_build": 0.0, "merge": 0.0}
    originals = (ev.prepare, ev.ensure_ray, ev.evaluate_table, run_mod.iter_shards, State.__dict__["merged"])

    def timed(key, fn):
        def wrapper(*args, **kwargs):
            clock = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[key] += time.perf_counter() - clock
        return wrapper

    def iter_shards(*args, **kwargs):
        it = originals[3](*args, **kwargs)
        while True:
            clock = time.perf_counter()
            try:
                shard = next(it)
            except StopIteration:
                times["shard_build"] += time.perf_counter() - clock
                return
            times["shard_build"] += time.perf_counter() - clock
            yield shard

    ev.prepare = timed("prepare", originals[0])
    ev.ensure_ray = timed("ensure_ray", originals[1])
    ev.evaluate_table = timed("shards", originals[2])
    run_mod.iter_shards = iter_shards
    State.merged = staticmethod(timed("merge", State.merged))
    try:
        yield times
    finally:
        ev.prepare, ev.ensure_ray, ev.evaluate_table, run_mod.iter_shards, State.merged = originals


def raydeval_once(task_name: str, info: dict, workers: int, conventions: dict | None = None) -> dict:
    """One timed evaluation: wall time, its split and the driver's peak-RSS growth."""
    from raydeval.evaluate import RunSettings, evaluate

    settings = RunSettings(workers=workers, progress=False)
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

    sampler = _Sampler(_worker_hwm("ray::"), 0.05)
    sampler.start()
    try:
        with DriverPeak() as peak:
            evaluate(task_name, info["gt"], info["pred"], conventions or {},
                     RunSettings(workers=workers, progress=False))
    finally:
        sampler.stop()
    kib = list(sampler.peaks.values())
    return {"driver_peak_growth_mib": peak.growth_mib,
            "driver_rss_mib": (_status_kib("self", "VmRSS") or 0) / 1024,
            "worker_peak_mib": max(kib) / 1024 if kib else None, "worker_processes": len(kib)}


# --- (c) naive loop ------------------------------------------------------------------------

def naive_images(info: dict, limit: int | None = None) -> dict:
    """Pillow + scikit-learn, one process: macro-F1 over all rows, pixel F1 over the first
    `limit` mask pairs (all when None). Times the whole loop (manifests included)."""
    import pyarrow.parquet as pq
    from sklearn.metrics import f1_score

    clock = time.perf_counter()
    gt = pq.read_table(info["gt"]).to_pylist()
    pred = {r["id"]: r for r in pq.read_table(info["pred"]).to_pylist()}
    gt_dir = os.path.dirname(info["gt"])
    pred_dir = os.path.dirname(info["pred"])
    y_true, y_pred, f1s = [], [], []
    for row in gt:
        guess = pred[row["id"]]
        y_true.append(row["label"])
        y_pred.append(int(guess["score"] > 0.5))
        if row["label"] == 1 and row["mask"] is not None and (limit is None or len(f1s) < limit):
            pred_path = os.path.join(pred_dir, guess["mask"]) if guess["mask"] else None
            f1s.append(kernels.naive_pair_f1(os.path.join(gt_dir, row["mask"]), pred_path))
    macro = float(f1_score(y_true, y_pred, average="macro", labels=[0, 1], zero_division=0))
    seconds = time.perf_counter() - clock
    return {"seconds": seconds, "pairs": len(f1s), "pixel_f1": float(np.mean(f1s)) if f1s else None,
            "macro_f1": macro}


# --- (d) Ray Data --------------------------------------------------------------------------

def raydata_images(info: dict, reps: int = 3, batch_size: int = 8) -> dict:
    """raydeval's per-pair kernel through Ray Data `map_batches` (pixel F1 only)."""
    try:
        import ray.data
        from ray import cloudpickle
    except ImportError as e:  # ray[default] lacks pandas
        return {"skipped": f"ray.data unavailable ({e}); `pip install pandas` (bench/requirements.txt)"}
    from raydeval.exact import exact_sum_units
    from raydeval.metrics import finish_mean

    cloudpickle.register_pickle_by_value(kernels)  # the workers need not import `bench`
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    items = [{"gt": gt, "pred": pred} for _, gt, pred in info["pair_paths"]]
    seconds, f1s = [], None
    for _ in range(reps):
        clock = time.perf_counter()
        ds = ray.data.from_items(items).map_batches(kernels.raydeval_pair_f1s, batch_size=batch_size,
                                                    batch_format="numpy")
        f1s = np.concatenate([b["f1"] for b in ds.iter_batches(batch_size=None, batch_format="numpy")])
        seconds.append(time.perf_counter() - clock)
    return {"seconds": seconds, "pairs": len(items), "pixel_f1": finish_mean(exact_sum_units(f1s), len(f1s)),
            "batch_size": batch_size}


# --- (e) label rows -------------------------------------------------------------------------

def naive_labels(info: dict) -> dict:
    """scikit-learn on the joined label manifests (for the agreement check; untimed)."""
    import pyarrow.parquet as pq
    from sklearn.metrics import f1_score, roc_auc_score

    gt = pq.read_table(info["gt"])
    pred = pq.read_table(info["pred"])
    where = {sid: i for i, sid in enumerate(pred.column("id").to_pylist())}
    take = np.array([where[sid] for sid in gt.column("id").to_pylist()])
    y_true = gt.column("label").to_numpy()
    score = pred.column("score").to_numpy()[take]
    return {"f1": float(f1_score(y_true, (score > 0.5).astype(int), zero_division=0)),
            "auc": float(roc_auc_score(y_true, score))}


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


def _child_run(task_name: str, gt: str, pred: str, workers: int, shard_size: int = 0) -> None:
    """One evaluation in this fresh process. With `shard_size` 0 Ray is started first and the
    evaluation is timed alone; otherwise it runs in the CLI's order (manifests read and validated,
    then Ray started, then shards) and `first_shard` counts from the start of Ray's start."""
    import raydeval.evaluate as ev
    from raydeval.engine.run import Progress, ensure_ray

    marks = {}

    class FirstShard(Progress):
        def update(self, rows: int) -> None:
            marks.setdefault("first_shard", time.perf_counter())

    def timed_ensure_ray(*args):
        marks.setdefault("ray_began", time.perf_counter())
        mode = ensure_ray(*args)
        marks.setdefault("ray_ready", time.perf_counter())
        return mode

    ev.Progress, ev.ensure_ray = FirstShard, timed_ensure_ray
    if not shard_size:
        timed_ensure_ray(None, workers)
    with split_timers() as split, DriverPeak() as peak:
        clock = time.perf_counter()
        ev.evaluate(task_name, gt, pred, {}, ev.RunSettings(workers=workers, shard_size=shard_size, progress=True))
        wall = time.perf_counter() - clock
    print(json.dumps({"ray_start": marks["ray_ready"] - marks["ray_began"],
                      "first_shard": marks["first_shard"] - marks["ray_began"], "wall": wall,
                      "prepare": split["prepare"], "shards": split["shards"],
                      "driver_growth_mib": peak.growth_mib,
                      "driver_hwm_mib": (_status_kib("self", "VmHWM") or 0) / 1024}), flush=True)


# --- the whole run -------------------------------------------------------------------------

def run_all(data_root: str, sizes: dict, reps: int = 3, seed: int = 0, naive_pairs: int | None = 30,
            raydata: bool = True, ray_start_reps: int | None = None, fresh_labels: bool = True,
            memory: bool = True, gen_processes: int = 2, log=print) -> dict:
    """Every measurement of the report; returns a JSON-able dict.

    `sizes` as `generate.scaled(scale)`; `naive_pairs=None` runs the naive loop on every pair;
    `ray_start_reps=0` leaves a running Ray alone (tests) instead of restarting it.
    """
    ray_start_reps = reps if ray_start_reps is None else ray_start_reps
    clock = time.monotonic()
    log(f"generating / reusing workloads in {data_root} ...")
    work = generate.generate_all(data_root, sizes, seed, gen_processes)
    images, videos = work["images"], work["videos"]
    labels = [work["labels_small"], work["labels_large"]]
    log(f"  workloads ready ({time.monotonic() - clock:.1f} s)")
    out = {"sizes": {"image_pairs": len(images["pair_paths"]), "image_rows": images["rows"],
                     "image_shape": images["shape"], "videos": len(videos["pair_paths"]),
                     "video_rows": videos["rows"], "video_frames": videos["frames"],
                     "video_shape": videos["shape"], "label_rows": [info["rows"] for info in labels]},
           "reps": reps, "loadavg_start": os.getloadavg()}

    img_files, vid_files = image_files(images), video_files(videos)
    pool = FloorPool(POOL_PROCESSES)  # spawned now, before this process starts Ray
    try:
        _measure(out, data_root, images, videos, labels, img_files, vid_files, pool, reps, naive_pairs,
                 raydata, ray_start_reps, fresh_labels, memory, log)
    finally:
        pool.close()

    out["agreement"] = agreement(out, images)
    out["loadavg_end"] = os.getloadavg()
    out["harness_seconds"] = time.monotonic() - clock
    return out


def _measure(out, data_root, images, videos, labels, img_files, vid_files, pool, reps, naive_pairs,
             raydata, ray_start_reps, fresh_labels, memory, log) -> None:
    # (g) single-process decoders and raydeval's task kernels: before this process starts Ray
    log("(g) decoders and raydeval task kernels in one process ...")
    out["floor1_images"] = decode_in_process(img_files, kernels.floor_image, reps=reps)
    out["floor1_videos"] = decode_in_process(vid_files, kernels.floor_video, reps=reps)
    out["kernel1_images"] = task_kernel_in_process("openmmsec-image", images, reps)
    out["kernel1_videos"] = task_kernel_in_process("openmmsec-video", videos, reps)

    # (c) naive loop
    log(f"(c) naive loop on {naive_pairs or 'all'} pairs x {reps} ...")
    naive = [naive_images(images, naive_pairs) for _ in range(reps)]
    out["naive"] = {"seconds": [n["seconds"] for n in naive], "pairs": naive[0]["pairs"],
                    "macro_f1": naive[0]["macro_f1"], "pixel_f1_subset": naive[0]["pixel_f1"]}
    out["naive_labels"] = naive_labels(labels[0])

    # (e) one-shot label runs in fresh processes (each starts its own Ray)
    if fresh_labels:
        for info in labels:
            log(f"(e) labels, {info['rows']:,} rows, fresh process x {reps} ...")
            out[f"fresh_labels_{info['rows']}"] = one_shot_fresh("openmmsec-audio", info, POOL_PROCESSES, reps)
        log(f"(e) images in shards of 1 sample, fresh process x {reps}: Ray start to first shard ...")
        out["fresh_images"] = one_shot_fresh("openmmsec-image", images, POOL_PROCESSES, reps, shard_size=1)

    # (b) Ray start
    if ray_start_reps:
        log("(b) Ray start ...")
        out["ray_start"] = ray_start(ray_start_reps)
    else:
        from raydeval.engine.run import ensure_ray

        ensure_ray(None, POOL_PROCESSES)
        out["ray_start"] = None

    # (a), (b), (e), (g) interleaved: one repetition of every variant per round, so that a
    # transient load on the machine hits all variants alike; the floors run next to the idle Ray.
    # The 1-worker runs follow in an embedded Ray of 1 CPU, as `raydeval eval --workers 1` runs.
    tiny = generate.label_workload(data_root, 10, seed=0)
    phases = {POOL_PROCESSES: [("raydeval_images_2", "openmmsec-image", images),
                               ("raydeval_videos_2", "openmmsec-video", videos),
                               (f"labels_{labels[0]['rows']}", "openmmsec-audio", labels[0]),
                               (f"labels_{labels[1]['rows']}", "openmmsec-audio", labels[1]),
                               ("fixed_cost", "openmmsec-audio", tiny)],
              1: [("raydeval_images_1", "openmmsec-image", images),
                  ("raydeval_videos_1", "openmmsec-video", videos)]}
    pool.time(img_files[:4], kernels.floor_image)  # page cache, first calls
    pool.time(vid_files[:4], kernels.floor_video)
    floors = {"floor_images": [], "floor_videos": []}
    for workers, variants in phases.items():
        if ray_start_reps:  # tests (ray_start_reps=0) keep their running Ray for every phase
            _restart_ray(workers)
        for name, task, info in variants:
            raydeval_once(task, info, workers)  # warm: worker imports, JIT cache, page cache
        runs = {name: [] for name, *_ in variants}
        for rep in range(reps):
            log(f"(a)(b)(e) round {rep + 1}/{reps}, Ray with {workers} CPU(s): "
                f"{'floors, ' if workers == POOL_PROCESSES else ''}{', '.join(runs)} ...")
            if workers == POOL_PROCESSES:
                floors["floor_images"].append(pool.time(img_files, kernels.floor_image))
                floors["floor_videos"].append(pool.time(vid_files, kernels.floor_video))
            for name, task, info in variants:
                runs[name].append(raydeval_once(task, info, workers))
        for name, task, info in variants:
            summary = summarize(runs[name], workers)
            if memory and name != "fixed_cost":
                log(f"(f) peak RSS, {name} ...")
                summary.update(memory_run(task, info, workers))
            out[name] = _strip(summary)
    out["floor_images"] = {"seconds": floors["floor_images"], "files": len(img_files), "processes": pool.processes}
    out["floor_videos"] = {"seconds": floors["floor_videos"], "files": len(vid_files), "processes": pool.processes}
    if ray_start_reps:
        _restart_ray(POOL_PROCESSES)

    # (d) Ray Data
    if raydata:
        log("(d) Ray Data map_batches ...")
        out["raydata_images"] = raydata_images(images, reps)
    else:
        out["raydata_images"] = {"skipped": "not requested (--no-raydata)"}


def _strip(run: dict) -> dict:
    """A run summary without the bulky per-run results (keeps the last result's metrics)."""
    out = {k: v for k, v in run.items() if k not in ("runs", "result")}
    out["walls"] = [r["wall"] for r in run["runs"]]
    out["metrics"] = run["result"]["metrics"]
    out["counts"] = run["result"]["counts"]
    out["shard_count"] = run["result"]["run"]["shards"]
    out["all_metrics_equal"] = all(r["result"]["metrics"] == run["result"]["metrics"] for r in run["runs"])
    return out


def agreement(out: dict, images: dict) -> list[dict]:
    """Checks of the metrics that variants share (bit-identical, or to 1e-12 against sklearn)."""
    checks = []
    for name in ("images", "videos"):
        a, b = out[f"raydeval_{name}_1"], out[f"raydeval_{name}_2"]
        checks.append({"what": f"{name}: raydeval 1 vs 2 workers (and every repetition), all metrics "
                               "bit-identical",
                       "ok": a["metrics"] == b["metrics"] and a["all_metrics_equal"] and b["all_metrics_equal"]})
    ray2 = out["raydeval_images_2"]["metrics"]
    checks.append({"what": "images: naive loop macro-F1 (sklearn, float) == raydeval macro_f1 (to 1e-12)",
                   "ok": abs(out["naive"]["macro_f1"] - ray2["macro_f1"]) <= 1e-12})
    rd = out.get("raydata_images", {})
    if "pixel_f1" in rd:
        checks.append({"what": "images: Ray Data pixel F1 (exact mean) == raydeval pixel_f1, bit-identical",
                       "ok": rd["pixel_f1"] == ray2["pixel_f1"]})
    naive_pairs = out["naive"]["pairs"]
    if naive_pairs == len(images["pair_paths"]):
        checks.append({"what": "images: naive loop mean pixel F1 (sklearn) == raydeval pixel_f1 (to 1e-12)",
                       "ok": abs(out["naive"]["pixel_f1_subset"] - ray2["pixel_f1"]) <= 1e-12})
    else:
        sub = pixel_f1_subset(images, naive_pairs)
        checks.append({"what": f"images: naive loop mean pixel F1 (sklearn) on its {naive_pairs} pairs == "
                               "raydeval's kernel on the same pairs (to 1e-12)",
                       "ok": abs(out["naive"]["pixel_f1_subset"] - sub) <= 1e-12})
    small = out["sizes"]["label_rows"][0]
    lab = out[f"labels_{small}"]["metrics"]
    checks.append({"what": f"labels {small:,} rows: sklearn f1 / roc_auc == raydeval f1 / auc (to 1e-12)",
                   "ok": abs(out["naive_labels"]["f1"] - lab["f1"]) <= 1e-12
                   and abs(out["naive_labels"]["auc"] - lab["auc"]) <= 1e-12})
    return checks


def pixel_f1_subset(info: dict, pairs: int) -> float:
    """raydeval's per-pair kernel (decode, count, per-sample F1, exact mean) on the first pairs."""
    from raydeval.exact import exact_sum_units
    from raydeval.metrics import finish_mean

    chosen = info["pair_paths"][:pairs]
    f1s = kernels.raydeval_pair_f1s({"gt": [g for _, g, _ in chosen], "pred": [p for _, _, p in chosen]})["f1"]
    return finish_mean(exact_sum_units(f1s), len(f1s))


# --- report --------------------------------------------------------------------------------

def machine_info() -> dict:
    import importlib.metadata as md

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    versions = {}
    for pkg in ("raydeval", "ray", "numpy", "pyarrow", "av", "pyspng", "pillow", "scikit-learn", "pandas", "psutil"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
                f"{i.get('num_threads')} threads)" for i in threadpool_info()]
    except ImportError:
        blas = ["threadpoolctl not installed"]
    total_mem = None
    try:
        total_mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": total_mem, "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "blas": blas,
            "env": {k: os.environ.get(k, "(unset)") for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}}


def figures(r: dict) -> dict:
    """Throughputs, ratios and target figures (None where not measured)."""
    s = r["sizes"]
    pairs, frames = s["image_pairs"], s["videos"] * s["video_frames"]
    small, large = s["label_rows"]
    f = {"pairs": pairs, "frames": frames}
    f["floor_images_pps"] = pairs / median(r["floor_images"]["seconds"])
    f["floor_videos_fps"] = frames / median(r["floor_videos"]["seconds"])
    f["floor1_images_pps"] = pairs / median(r["floor1_images"]["seconds"])
    f["floor1_videos_fps"] = frames / median(r["floor1_videos"]["seconds"])
    f["kernel1_images_pps"] = pairs / median(r["kernel1_images"]["seconds"])
    f["kernel1_videos_fps"] = frames / median(r["kernel1_videos"]["seconds"])
    f["naive_pps"] = r["naive"]["pairs"] / median(r["naive"]["seconds"])
    for w in (1, 2):
        f[f"images_{w}_pps"] = pairs / r[f"raydeval_images_{w}"]["wall"]
        f[f"videos_{w}_fps"] = frames / r[f"raydeval_videos_{w}"]["wall"]
    f["startup_s"] = r["fresh_images"]["first_shard"] if r.get("fresh_images") else None
    f["image_vs_floor"] = f["images_2_pps"] / f["floor_images_pps"]
    f["image_vs_naive"] = f["images_2_pps"] / f["naive_pps"]
    f["scaling_1_to_2"] = f["images_2_pps"] / f["images_1_pps"]
    f["video_scaling_1_to_2"] = f["videos_2_fps"] / f["videos_1_fps"]
    f["video_vs_floor"] = f["videos_2_fps"] / f["floor_videos_fps"]
    f["labels_extra_s"] = r[f"labels_{large}"]["wall"] - r[f"labels_{small}"]["wall"]
    fresh_small, fresh_large = r.get(f"fresh_labels_{small}"), r.get(f"fresh_labels_{large}")
    if fresh_small and fresh_large:
        f["labels_extra_rss_mib"] = fresh_large["driver_growth_mib"] - fresh_small["driver_growth_mib"]
        f["labels_extra_rss_source"] = "fresh processes"
    else:
        f["labels_extra_rss_mib"] = ((r[f"labels_{large}"]["driver_growth_mib"] or 0)
                                     - (r[f"labels_{small}"]["driver_growth_mib"] or 0))
        f["labels_extra_rss_source"] = "this process"
    f["fixed_s"] = r["fixed_cost"]["wall"]
    rd = r.get("raydata_images", {})
    if "seconds" in rd:
        f["raydata_pps"] = rd["pairs"] / median(rd["seconds"])
    return f


def _worker_rows(r: dict, f: dict, workload: str, rate: str, digits: str, unit: str) -> list[str]:
    """The (b) rows of a workload: raydeval with 1 and 2 workers."""
    return [f"| {workload} | (b) raydeval, {w} worker{'s' if w > 1 else ''} | "
            f"{_fmt_s(r[f'raydeval_{workload}_{w}']['walls'])} | {f[f'{workload}_{w}_{rate}']:{digits}} {unit} |"
            for w in (1, 2)]


def _fmt_s(values) -> str:
    values = list(values)
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def render(r: dict, meta: dict) -> str:
    f = figures(r)
    s = r["sizes"]
    pairs, frames = f["pairs"], f["frames"]
    small_rows, large_rows = s["label_rows"]
    mach = meta["machine"]
    lines = [
        "# raydeval benchmark results",
        "",
        f"Generated by `bench/harness.py` on {meta['date']}. Every figure is the median of {r['reps']} "
        "repetition(s) (min–max in brackets) unless marked otherwise. Shared 2-core machine: expect "
        "±25 % between runs.",
        "",
        "## Machine and command",
        "",
        f"* CPU: {mach['cpu']}, {mach['cores']} cores"
        + (f", {mach['memory_gib']:.0f} GiB memory" if mach["memory_gib"] else "") + ", no GPU used",
        f"* Python {mach['python']} on {mach['platform']}",
        "* Versions: " + ", ".join(f"{k} {v}" for k, v in mach["versions"].items()),
        "* BLAS (threadpoolctl): " + ("; ".join(mach["blas"]) or "none loaded"),
        "* Environment: " + ", ".join(f"`{k}={v}`" for k, v in mach["env"].items()),
        f"* Command: `{meta['command']}`",
        f"* Load average (1/5/15 min) at start {_load(r['loadavg_start'])}, at end {_load(r['loadavg_end'])}; "
        f"harness wall time {r['harness_seconds']:.0f} s; workloads in `{meta['data']}`",
        "",
        "## Workloads",
        "",
        f"* images: {pairs} fake images with a GT and a predicted mask "
        f"({s['image_shape'][0]}×{s['image_shape'][1]} blob masks, 8-bit PNG ~20 KB; of every 50 pairs one "
        f"has a 16-bit PNG GT, one an RGB PNG GT, one a .npy GT, one a .npy prediction) + "
        f"{s['image_rows'] - pairs} real images without masks = {s['image_rows']} rows. "
        f"Unit: mask pairs ({2 * pairs} files).",
        f"* videos: {s['videos']} fake videos with GT and predicted FFV1 gray mask videos "
        f"({s['video_shape'][0]}×{s['video_shape'][1]}, {s['video_frames']} frames) + "
        f"{s['video_rows'] - s['videos']} real videos without masks. Unit: frame pairs ({frames}; "
        f"{2 * frames} frames decoded).",
        f"* labels (audio task): {small_rows:,} and {large_rows:,} rows, string ids, scores with 3 "
        "decimals (ties), predictions shuffled; Parquet.",
        "",
        "## Figures",
        "",
        "Throughput after start-up = work units / wall time of `evaluate()` with Ray already running "
        "(it includes manifest read + validation, shard tasks, merge and finalize). The floors and "
        f"every {POOL_PROCESSES}-worker run share interleaved rounds in an embedded Ray of "
        f"{POOL_PROCESSES} CPUs; the 1-worker runs follow in an embedded Ray of 1 CPU, as "
        "`raydeval eval --workers 1` starts it.",
        "",
        "| Workload | Variant | Wall s | Throughput |",
        "|---|---|---|---|",
        f"| images | (a) decode floor: pyspng / np.load, Pool({POOL_PROCESSES}) | "
        f"{_fmt_s(r['floor_images']['seconds'])} | {f['floor_images_pps']:.1f} pairs/s |",
    ]
    lines += _worker_rows(r, f, "images", "pps", ".1f", "pairs/s")
    lines.append(f"| images | (c) naive loop: Pillow + sklearn f1_score, 1 process, first "
                 f"{r['naive']['pairs']} pairs | {_fmt_s(r['naive']['seconds'])} | {f['naive_pps']:.2f} pairs/s |")
    rd = r.get("raydata_images", {})
    if "seconds" in rd:
        lines.append(f"| images | (d) Ray Data `map_batches` (batch {rd['batch_size']}) of raydeval's "
                     f"per-pair kernel | {_fmt_s(rd['seconds'])} | {f['raydata_pps']:.1f} pairs/s |")
    else:
        lines.append(f"| images | (d) Ray Data: skipped ({rd.get('skipped')}) | – | – |")
    lines += [
        f"| images | (g) decode floor, 1 process, no pool | {_fmt_s(r['floor1_images']['seconds'])} | "
        f"{f['floor1_images_pps']:.1f} pairs/s |",
        f"| images | (g) raydeval task kernel (`ImageTask.evaluate` on one shard), 1 process, no Ray | "
        f"{_fmt_s(r['kernel1_images']['seconds'])} | {f['kernel1_images_pps']:.1f} pairs/s |",
        f"| videos | (a) decode floor: PyAV Y plane, Pool({POOL_PROCESSES}) | "
        f"{_fmt_s(r['floor_videos']['seconds'])} | {f['floor_videos_fps']:.0f} frame pairs/s |",
    ]
    lines += _worker_rows(r, f, "videos", "fps", ".0f", "frame pairs/s")
    lines += [
        f"| videos | (g) decode floor, 1 process, no pool | {_fmt_s(r['floor1_videos']['seconds'])} | "
        f"{f['floor1_videos_fps']:.0f} frame pairs/s |",
        f"| videos | (g) raydeval task kernel (`VideoTask.evaluate` on one shard), 1 process, no Ray | "
        f"{_fmt_s(r['kernel1_videos']['seconds'])} | {f['kernel1_videos_fps']:.0f} frame pairs/s |",
    ]
    for rows in (small_rows, large_rows):
        run = r[f"labels_{rows}"]
        lines.append(f"| labels {rows:,} rows | (b) raydeval, 2 workers | {_fmt_s(run['walls'])} | "
                     f"{rows / run['wall']:,.0f} rows/s |")
    for rows in (small_rows, large_rows):
        fr = r.get(f"fresh_labels_{rows}")
        if fr:
            lines.append(f"| labels {rows:,} rows | (e) one-shot in a fresh process: Ray start "
                         f"{fr['ray_start']:.3f} s + `evaluate()` | {fr['wall']:.3f} | {rows / fr['wall']:,.0f} rows/s |")
    if r.get("fresh_images"):
        fi = r["fresh_images"]
        lines.append(f"| images | (e) one-shot in a fresh process as the CLI runs it (manifests validated, then Ray "
                     f"started), shards of 1 sample: Ray start {fi['ray_start']:.3f} s, first shard's state on the "
                     f"driver {fi['first_shard']:.3f} s after Ray start began; `evaluate()` including Ray start | "
                     f"{fi['wall']:.3f} | {pairs / fi['wall']:,.0f} pairs/s |")
    fc = r["fixed_cost"]
    lines += [f"| 10 label rows | (g) fixed cost of one `evaluate()` (Ray running) | {_fmt_s(fc['walls'])} | – |"]
    if r.get("ray_start"):
        rs = r["ray_start"]
        lines.append(f"| – | Ray start: `ensure_ray(None, 2)` from stopped | {_fmt_s(rs['seconds'])} | – |")
        if rs.get("first_task_seconds"):  # (runs from before it was measured have none)
            lines.append(f"| – | Ray's first task after that start (a no-op) | {_fmt_s(rs['first_task_seconds'])} | – |")
        if rs["shutdown_seconds"]:
            lines.append(f"| – | Ray shutdown (`ray.shutdown()`) | {_fmt_s(rs['shutdown_seconds'])} | – |")
    lines += [
        "",
        "### Split of the raydeval runs (medians, seconds)",
        "",
        "`prepare` = manifest read + validation + join (`raydeval.evaluate.prepare`); `shard work` = "
        "`evaluate_table` (shard tasks, merge), of which `shard build` = cutting shards on the "
        "driver and `merge` = `State.merged` on the driver; `other` = the rest of `evaluate()` "
        "(finalize, result). Ray start is in none of them (timed above).",
        "",
        "| Run | total | prepare | shard work | shard build | merge | other | shards |",
        "|---|---|---|---|---|---|---|---|",
    ]
    runs = [("images, 1 worker", "raydeval_images_1"), ("images, 2 workers", "raydeval_images_2"),
            ("videos, 1 worker", "raydeval_videos_1"), ("videos, 2 workers", "raydeval_videos_2"),
            (f"labels {small_rows:,}, 2 workers", f"labels_{small_rows}"),
            (f"labels {large_rows:,}, 2 workers", f"labels_{large_rows}"),
            ("10 label rows, 2 workers", "fixed_cost")]
    for label, key in runs:
        run = r[key]
        lines.append(f"| {label} | {run['wall']:.3f} | {run['prepare']:.3f} | {run['shards']:.3f} | "
                     f"{run['shard_build']:.3f} | {run['merge']:.3f} | {run['other']:.3f} | "
                     f"{run['shard_count']} |")
    lines += [
        "",
        "### Memory (peak RSS)",
        "",
        "Driver peak growth = the driver's peak RSS during one `evaluate()` minus its RSS just before "
        "(VmHWM reset through `/proc/self/clear_refs`; includes object-store pages the driver writes). "
        "In a long-lived process it depends on what the allocators kept from earlier runs; the fresh-process "
        "rows are one-shot runs (median of the repetitions). Worker peak = the largest VmHWM of any "
        "Ray worker process (`ray::` processes, which run the `evaluate_shard` tasks), sampled every 50 ms in one extra untimed run.",
        "",
        "| Run | driver peak growth MiB | driver RSS after MiB | worker peak RSS MiB (processes seen) |",
        "|---|---|---|---|",
    ]
    for label, key in runs[:-1]:
        run = r[key]
        wp = run.get("worker_peak_mib")
        lines.append(f"| {label} | {_mib(run['driver_growth_mib'])} | {_mib(run.get('driver_rss_mib'))} | "
                     f"{_mib(wp)} ({run.get('worker_processes', '–')}) |")
    for rows in (small_rows, large_rows):
        fr = r.get(f"fresh_labels_{rows}")
        if fr:
            lines.append(f"| labels {rows:,}, 2 workers, fresh process | {_mib(fr['driver_growth_mib'])} | "
                         f"peak {_mib(fr['driver_hwm_mib'])} | – |")
    startup = f["startup_s"]
    lines += [
        "",
        "## Targets",
        "",
        "| Target | Figure | Required | Met |",
        "|---|---|---|---|",
        _target("Image throughput after start-up vs decode-only floor (raydeval 2 workers vs Pool(2))",
                f["image_vs_floor"], "×", TARGETS["image_vs_floor"], ">="),
        _target("Image throughput after start-up vs naive loop (2 workers vs 1 process)", f["image_vs_naive"],
                "×", TARGETS["image_vs_naive"], ">="),
        _target("Start-up (fresh process, images: Ray start to the first shard's state on the driver)",
                startup, " s", TARGETS["startup_s"], "<="),
        _target("Scaling 1 → 2 workers (images)", f["scaling_1_to_2"], "×", TARGETS["scaling_1_to_2"], ">="),
        _target("Mask videos vs decode-only floor (raydeval 2 workers vs Pool(2))", f["video_vs_floor"], "×",
                TARGETS["video_vs_floor"], ">="),
        _target(f"Label rows: extra wall time of {large_rows:,} over {small_rows:,} rows (Ray running)",
                f["labels_extra_s"], " s", TARGETS["labels_extra_s"], "<="),
        _target(f"Label rows: extra driver peak-RSS growth of {large_rows:,} over {small_rows:,} rows "
                f"({f['labels_extra_rss_source']})", f["labels_extra_rss_mib"], " MiB",
                TARGETS["labels_extra_rss_mib"], "<="),
        "",
        "Other ratios: "
        + "; ".join(x for x in [
            f"video scaling 1 → 2 workers {f['video_scaling_1_to_2']:.2f}×",
            f"the machine's own 1 → 2 process scaling for this work (decode floor Pool(2) vs 1 process): "
            f"images {f['floor_images_pps'] / f['floor1_images_pps']:.2f}×, videos "
            f"{f['floor_videos_fps'] / f['floor1_videos_fps']:.2f}×",
            f"Ray Data vs raydeval (images, 2 workers) {f['raydata_pps'] / f['images_2_pps']:.2f}×"
            if "raydata_pps" in f else "",
            f"raydeval images 1 worker vs 1-process decode floor {f['images_1_pps'] / f['floor1_images_pps']:.2f}×",
            f"raydeval's image task kernel vs 1-process decode floor (no Ray) "
            f"{f['kernel1_images_pps'] / f['floor1_images_pps']:.2f}×",
            f"video task kernel vs 1-process video floor {f['kernel1_videos_fps'] / f['floor1_videos_fps']:.2f}×",
            f"images, 2 workers, excluding the fixed per-evaluation cost ({f['fixed_s']:.2f} s) vs floor "
            f"{pairs / max(r['raydeval_images_2']['wall'] - f['fixed_s'], 1e-9) / f['floor_images_pps']:.2f}×",
            f"videos likewise {frames / max(r['raydeval_videos_2']['wall'] - f['fixed_s'], 1e-9) / f['floor_videos_fps']:.2f}×",
        ] if x) + ".",
    ]
    rs, fi = r.get("ray_start"), r.get("fresh_images")
    if rs and fi and rs.get("first_task_seconds"):
        ray_own = median(rs["seconds"]) + median(rs["first_task_seconds"])
        lines += ["", f"Start-up split (medians of separate runs): Ray's start in the fresh runs "
                  f"{fi['ray_start']:.2f} s; Ray's own cost of a first (no-op) task "
                  f"{median(rs['first_task_seconds']):.2f} s; the rest of the first shard's "
                  f"{fi['first_shard']:.2f} s, {fi['first_shard'] - fi['ray_start'] - median(rs['first_task_seconds']):.2f} s, "
                  f"is raydeval's: the worker's imports, Numba loading its cached kernels and the first "
                  f"sample (Ray alone, start plus first task: {ray_own:.2f} s)."]
    if meta.get("scale", 1.0) != 1.0:
        lines += ["", f"Note: run at --scale {meta['scale']}; the targets are defined for the default scale."]
    lines += ["", "## Agreement of the variants", ""]
    for check in r["agreement"]:
        lines.append(f"* {'OK' if check['ok'] else 'DIFFERENT'}: {check['what']}")
    m = r["raydeval_images_2"]["metrics"]
    lm = r[f"labels_{large_rows}"]["metrics"]
    lines.append(f"* Values: images macro_f1 {m['macro_f1']!r}, pixel_f1 {m['pixel_f1']!r}; videos mviou "
                 f"{r['raydeval_videos_2']['metrics']['mviou']!r}; labels {large_rows:,} f1 {lm['f1']!r}, "
                 f"auc {lm['auc']!r}")
    if meta.get("notes"):
        lines += ["", "## Notes", ""] + [f"* {n}" for n in meta["notes"]]
    lines += ["", meta["gpu_section"].strip() if meta.get("gpu_section") else
              "## GPU\n\nNot measured in this run (this machine has no GPU). The GPU targets are measured "
              "by `python -m bench.gpu` on a machine with one; `--gpu-section FILE` puts its output here."]
    return "\n".join(lines) + "\n"


def _load(values) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def _mib(value) -> str:
    return "–" if value is None else f"{max(value, 0.0):.0f}"


def _target(what: str, value: float | None, unit: str, limit: float, op: str) -> str:
    required = f"{'≥' if op == '>=' else '≤'} {limit:g}{unit}"
    if value is None:
        return f"| {what} | not measured | {required} | – |"
    met = value >= limit if op == ">=" else value <= limit
    return f"| {what} | {value:.2f}{unit} | {required} | {'met' if met else '**not met**'} |"


NOTES = [
    "The naive loop is timed on its first pairs only (it runs at a few pairs/s); its cost is per pair, "
    "so the ratio does not depend on the subset. Its metrics are checked against raydeval's kernel on "
    "the same pairs.",
    "The floors (a), raydeval (b) and the label runs (e) are interleaved: each round runs every variant "
    "once, so a transient load on the shared machine hits all of them alike. The floor pool is spawned "
    "before Ray starts and runs next to the idle embedded Ray, as raydeval does. The single-process "
    "diagnostics (g) and the naive loop run before Ray starts.",
    "raydeval is measured in one long-lived process with Ray running; its shards are stateless Ray "
    "tasks, so later evaluations reuse Ray's worker processes; the `fixed cost` row isolates what one "
    "evaluation of a tiny manifest still costs.",
    "Ray Data runs raydeval's own per-pair kernel (read, decode, threshold, count, per-sample F1) and "
    "computes only pixel F1; its wall time includes the pipeline start.",
    "Ray's own start is bimodal on a small machine (about 2.8 or 3.8 s here): while `ray.init` waits "
    "for the new raylet to register, it asks the GCS once a second (a fixed one-second retry in Ray's "
    "GlobalStateAccessor::GetNode), so a raylet that registers just after a check costs a whole second. "
    "raydeval's share of the start-up includes Numba's first call, which imports SciPy when it is "
    "installed (as here, for scikit-learn): about 0.2 s of that share is absent where SciPy is not.",
    "bench needs pandas (Ray Data), scikit-learn and psutil: `pip install -r bench/requirements.txt`.",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.harness", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="bench/RESULTS.md", help="Markdown report to write")
    parser.add_argument("--data", default=generate.DEFAULT_ROOT, help="workload directory (not the repo)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every workload count")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per measurement (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-pairs", type=int, default=30, help="pairs timed in the naive loop (0: all)")
    parser.add_argument("--no-raydata", action="store_true", help="skip the Ray Data variant")
    parser.add_argument("--no-fresh", action="store_true", help="skip the one-shot fresh-process label runs")
    parser.add_argument("--json", help="also write the raw measurements as JSON")
    parser.add_argument("--gpu-section", help="a `python -m bench.gpu --out` file to include as the GPU section")
    parser.add_argument("--from-json", help="measure nothing: re-render the report of an earlier run's --json "
                        "file to --out (with --gpu-section: that run's report with a GPU section added)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        task_name, gt, pred, workers, shard_size = args.child
        _child_run(task_name, gt, pred, int(workers), int(shard_size))
        return
    measuring = ("data", "scale", "reps", "seed", "naive_pairs", "no_raydata", "no_fresh")
    if args.from_json and any(getattr(args, name) != parser.get_default(name) for name in measuring):
        parser.error("--from-json measures nothing: it takes only --out, --json and --gpu-section")
    if args.reps < 1:
        parser.error("--reps must be >= 1")

    def log(msg):
        print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)

    if args.from_json:
        with open(args.from_json, encoding="utf-8") as f:
            saved = json.load(f)
        meta, results = saved["meta"], saved["results"]
    else:
        generate.refuse_repo_path(args.data)
        meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "command": _command_line(), "data": args.data, "scale": args.scale, "notes": list(NOTES)}
    if args.gpu_section:
        with open(args.gpu_section, encoding="utf-8") as f:
            meta["gpu_section"] = f.read()
    if not args.from_json:
        results = run_all(args.data, generate.scaled(args.scale), args.reps, args.seed, args.naive_pairs or None,
                          not args.no_raydata, fresh_labels=not args.no_fresh, log=log)
        meta["machine"] = machine_info()  # after the run: BLAS is loaded by now
    text = render(results, meta)
    write_atomic(args.out, text)
    if args.json:
        write_atomic(args.json, json.dumps({"meta": meta, "results": results, "figures": figures(results)}, indent=1,
                                     default=str))
    log(f"wrote {args.out}")
    print(text)


def _command_line() -> str:
    names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = " ".join(f"{k}={os.environ[k]}" for k in names if k in os.environ)
    cmd = (env + " " if env else "") + "python -m bench.harness " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return cmd


if __name__ == "__main__":
    main()
