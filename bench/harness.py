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
      the fixed cost of one evaluation of a tiny manifest;
  (h) small jobs: the demo's 120-image evaluation from process start (in the CLI's own process)
      against a fresh process that only starts Ray, runs a no-op task and stops it;
  (i) the cost of persisting shard states (`--state-dir` on local disk and on moto's S3 server);
  (j) the cost of `--bootstrap 1000` and `--per-sample` over a plain run (images; 1M label rows);
  (k) manifests at scale: 1M, 10M and 100M label rows from process start, against the naive script.
  (l) image manifests at scale: 1M and 4M rows, the streamed join against the in-memory one.
It checks that all variants agree on the metrics they share and writes a Markdown report.

The measurements live in one module per workload: `bench.floor` (a, g), `bench.endtoend` (b, e, f),
`bench.baselines` (c, d and scikit-learn on the labels), `bench.engine` (h, i, j), `bench.manifests` (k, l), with RSS measurement in `bench.memory`; the
figures, targets and Markdown in `bench.report`. This module runs them in order (`run_all`), checks
the agreement of the variants, records the machine, and is the command line, including the
`--child` mode of the fresh-process runs (`bench.endtoend.one_shot_fresh`) and `--from-json`.
tests/test_bench_smoke.py runs all of it at a tiny scale.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time

from bench import generate, kernels
from bench.baselines import naive_images, naive_labels, raydata_images
from bench.common import POOL_PROCESSES
from bench.engine import DEMO_IMAGES, analysis_costs, small_job, state_costs
from bench.manifests import at_scale, images_at_scale
from bench.endtoend import (child_run, memory_run, one_shot_fresh, ray_start, raydeval_once, restart_ray, start_ray,
                            stop_ray, summarize)
from bench.floor import FloorPool, decode_in_process, image_files, task_kernel_in_process, video_files
from bench.report import NOTES, figures, render
from raydeval.io.result import write_atomic


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
        _measure(out, data_root, images, videos, labels, work["scale"] + work["image_scale"], img_files, vid_files, pool, reps, naive_pairs,
                 raydata, ray_start_reps, fresh_labels, memory, log)
    finally:
        pool.close()
        if ray_start_reps:  # the harness's own Ray (tests keep theirs)
            stop_ray()

    out["agreement"] = agreement(out, images)
    out["loadavg_end"] = os.getloadavg()
    out["harness_seconds"] = time.monotonic() - clock
    return out


def _measure(out, data_root, images, videos, labels, scale, img_files, vid_files, pool, reps, naive_pairs,
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
        log(f"(h) the demo's {DEMO_IMAGES}-image evaluation from process start vs Ray start alone x {reps} ...")
        out["small_job"] = small_job(data_root, reps)
        out["at_scale"] = at_scale([w for w in scale if w["kind"] != "image-manifests"], reps, log)
        out["images_at_scale"] = images_at_scale([w for w in scale if w["kind"] == "image-manifests"], reps, log)

    # (b) Ray start
    if ray_start_reps:
        log("(b) Ray start ...")
        out["ray_start"] = ray_start(ray_start_reps)
    else:
        start_ray(POOL_PROCESSES)
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
            restart_ray(workers)
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
        restart_ray(POOL_PROCESSES)

    # (d) Ray Data
    if raydata:
        log("(d) Ray Data map_batches ...")
        out["raydata_images"] = raydata_images(images, reps)
    else:
        out["raydata_images"] = {"skipped": "not requested (--no-raydata)"}

    # (i) persisted shard states
    log(f"(i) images with shard states persisted (none / local / S3) x {reps} ...")
    out["state_costs"] = state_costs(images, reps, POOL_PROCESSES)

    # (j) analyses
    log(f"(j) images and {labels[1]['rows']:,} label rows with --bootstrap 1000 / --per-sample x {reps} ...")
    out["analysis_costs"] = analysis_costs([("images", "openmmsec-image", images, "local"),
                                            (f"labels {labels[1]['rows']:,}", "openmmsec-audio", labels[1], None)],
                                           reps)


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
    for rows, runs in out.get("images_at_scale", {}).items():
        checks.append({"what": f"images {int(rows):,} manifest rows: streamed join == in-memory join, all metrics "
                               "bit-identical", "ok": runs["raydeval"]["metrics"] == runs["in_memory"]["metrics"]
                       and runs["raydeval"]["join"] == "streamed" and runs["in_memory"]["join"] == "in-memory"})
    for rows, runs in out.get("at_scale", {}).items():
        if "in_memory" in runs:
            checks.append({"what": f"labels {int(rows):,} rows: out-of-core (DuckDB) == in-memory join, all metrics "
                                   "bit-identical", "ok": runs["raydeval"]["metrics"] == runs["in_memory"]["metrics"]})
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


# --- machine -------------------------------------------------------------------------------

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
        child_run(task_name, gt, pred, int(workers), int(shard_size))
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
