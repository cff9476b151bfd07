"""(h) small jobs without Ray's start-up, (i) the cost of persisting shard states and (j) of the
analyses (`--bootstrap 1000`, `--per-sample`).

(h) The demo's 120-image evaluation as a user runs it (`python -m raydeval eval ...`, timed from
process start to exit), against a fresh Python process that only runs
`ray.init(address="local", num_cpus=2, include_dashboard=False)`, one no-op task and
`ray.shutdown()`, and against the same evaluation forced onto an embedded Ray (`--address local`);
interleaved, each in a temp folder of its own (Ray's session files go there, not to /tmp/ray).

(i) The image workload on the running Ray (2 workers), plain and with `--state-dir` on local disk
and on S3 (moto's server on 127.0.0.1, a fresh bucket prefix per run), interleaved; each
`evaluate()` writes every shard's state, then removes the state folder, as a successful run does.

(j) The image workload on the running Ray and the 1M label rows where raydeval runs them (in its
own process), plain, with `--bootstrap 1000` and with `--per-sample` (a local folder), interleaved.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

RAY_ONLY = ("import ray\n"
            "ray.init(address='local', num_cpus=2, include_dashboard=False)\n"
            "ray.get(ray.remote(lambda: None).remote())\n"
            "ray.shutdown()\n")
DEMO_IMAGES = 120


def demo_images(data_root: str) -> tuple[str, str]:
    """The demo's image benchmark (`raydeval demo`'s generator and seed), written once."""
    from raydeval.demo import make_image_benchmark

    root = os.path.join(data_root, f"demo-images-{DEMO_IMAGES}")
    done = os.path.join(root, "done")
    if not os.path.exists(done):
        shutil.rmtree(root, ignore_errors=True)
        gt, pred = make_image_benchmark(root, DEMO_IMAGES, np.random.default_rng(0))
        open(done, "w").close()
    return os.path.join(root, "gt.parquet"), os.path.join(root, "submission", "pred.csv")


def _timed(command: list[str], cwd: str) -> float:
    """Seconds from spawning `command` to its exit, with a fresh short TMPDIR (removed after)."""
    temp = tempfile.mkdtemp(prefix="rdb", dir="/tmp")
    try:
        clock = time.perf_counter()
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "TMPDIR": temp})
        seconds = time.perf_counter() - clock
        if proc.returncode != 0:
            raise RuntimeError(f"{command[:4]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return seconds
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def small_job(data_root: str, reps: int) -> dict:
    """(h): seconds per repetition of the three commands, interleaved."""
    gt, pred = demo_images(data_root)
    out = os.path.join(tempfile.mkdtemp(prefix="rdb-out"), "r.json")
    evaluate = [sys.executable, "-m", "raydeval", "eval", "openmmsec-image", "--gt", gt, "--pred", pred,
                "--quiet", "--out", out]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = {"eval_seconds": [], "ray_only_seconds": [], "eval_on_ray_seconds": []}
    _timed(evaluate, repo)  # warm: page cache, Numba's kernel cache
    for _ in range(reps):
        runs["eval_seconds"].append(_timed(evaluate, repo))
        runs["ray_only_seconds"].append(_timed([sys.executable, "-c", RAY_ONLY], repo))
        runs["eval_on_ray_seconds"].append(_timed(evaluate + ["--address", "local"], repo))
    shutil.rmtree(os.path.dirname(out), ignore_errors=True)
    return {**runs, "samples": DEMO_IMAGES}


class MotoServer:
    """moto's S3 server on a free loopback port (None where moto is not installed)."""

    def __enter__(self) -> dict | None:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            self.proc = None
            return None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        return {"endpoint_url": f"http://127.0.0.1:{port}", "key": "bench", "secret": "bench-secret"}

    def __exit__(self, *exc) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


def state_costs(info: dict, reps: int, workers: int) -> dict:
    """(i): wall seconds of `evaluate()` plain / with states on local disk / on moto S3."""
    from raydeval.evaluate import RunSettings, evaluate

    local_root = tempfile.mkdtemp(prefix="rdb-states")
    runs = {"plain": [], "local": [], "s3": []}
    shards = None
    with MotoServer() as s3:
        if s3:
            import s3fs
            s3fs.S3FileSystem(**s3).mkdir("bench-states")
        variants = [("plain", None, {}), ("local", local_root, {})]
        if s3:
            variants.append(("s3", "s3://bench-states", s3))
        for rep in range(reps + 1):  # the first round warms up and is not kept
            for name, where, options in variants:
                settings = RunSettings(address="local", workers=workers, progress=False, storage_options=options,
                                       state_dir=f"{where}/run-{rep}" if where else None)
                clock = time.perf_counter()
                result = evaluate("openmmsec-image", info["gt"], info["pred"], {}, settings)
                if rep:
                    runs[name].append(time.perf_counter() - clock)
                shards = result["run"]["shards"]
    shutil.rmtree(local_root, ignore_errors=True)
    return {**{f"{k}_seconds": v for k, v in runs.items() if v}, "shards": shards,
            "s3": "moto server on 127.0.0.1" if runs["s3"] else "skipped (moto not installed)"}


def analysis_costs(workloads: list[tuple[str, str, dict, str | None]], reps: int, replicates: int = 1000) -> dict:
    """(j): wall seconds of `evaluate()` plain, with `--bootstrap` and with `--per-sample`, interleaved,
    for each (name, task, workload, address) — address None runs where raydeval would (in-process for
    labels), "local" on the running Ray."""
    from raydeval.analysis import Analysis
    from raydeval.evaluate import RunSettings, evaluate

    out = {}
    for name, task, info, address in workloads:
        rows_root = tempfile.mkdtemp(prefix="rdb-rows")
        variants = {"plain": None, "bootstrap": Analysis(bootstrap=replicates, seed=1),
                    "per_sample": Analysis(per_sample=os.path.join(rows_root, "rows"))}
        runs = {k: [] for k in variants}
        for rep in range(reps + 1):  # the first round warms up and is not kept
            for variant, analysis in variants.items():
                settings = RunSettings(address=address, workers=2 if address else 0, progress=False)
                clock = time.perf_counter()
                result = evaluate(task, info["gt"], info["pred"], {}, settings, analysis=analysis)
                if rep:
                    runs[variant].append(time.perf_counter() - clock)
        shutil.rmtree(rows_root, ignore_errors=True)
        out[name] = {**{f"{k}_seconds": v for k, v in runs.items()}, "rows": result["counts"]["samples"],
                     "ray": result["run"]["ray"], "replicates": replicates}
    return out
