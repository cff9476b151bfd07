"""GPU counting benchmark, without Ray (CuPy and NumPy; PyAV, pyspng and pyarrow for --pipeline).

    python -m bench.gpu [--pairs 512] [--side 1024] [--pipeline] [--processes 16] [--out FILE.md]

Measures, on the first visible GPU, with medians of `--reps` repetitions:
  1. exactness: the GPU counter equals the CPU kernel on odd sizes, all-empty and all-full masks;
  2. the counting kernel alone on device-resident 8-bit masks (TB/s read, µs per pair);
  3. pinned host→device copy bandwidth (the PCIe ceiling), and pageable for comparison;
  4. the GPU stage: masks already in two pinned buffers, copies and counting overlapped on two
     streams (GB/s of masks, and its ratio to the pinned copy bandwidth);
  5. raydeval's GPU counter end to end from decoded NumPy masks (packing into pinned memory
     included) against the CPU kernel on one core;
  6. with --pipeline: the video task (decode + count, raydeval's own code) on `--processes`
     processes with --device cpu and with --device gpu, on generated FFV1 mask videos.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time

import numpy as np

from raydeval.media.backend import CpuOverlapCounter, fused_overlap_counts
from raydeval.media.gpu import BATCH_BYTES, Batch, GpuOverlapCounter, padded


def blob_masks(rng: np.random.Generator, count: int, side: int) -> list[np.ndarray]:
    """8-bit masks of a few filled discs (0/255), like real forged-region masks."""
    yy, xx = np.mgrid[:side, :side]
    masks = []
    for _ in range(count):
        mask = np.zeros((side, side), np.uint8)
        for cy, cx, r in rng.uniform(0, side, (3, 3)) * [1, 1, 0.2]:
            mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 255
        masks.append(mask)
    return masks


def timed(fn, reps: int) -> float:
    """Median seconds of `fn()` (which must wait for the GPU itself)."""
    fn()
    seconds = []
    for _ in range(reps):
        clock = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - clock)
    return statistics.median(seconds)


def check_exact(cp, batch_sizes=(1 << 16, BATCH_BYTES)) -> int:
    """Pairs of odd sizes through small and default buffers; returns how many were compared."""
    rng = np.random.default_rng(0)
    shapes = [(1, 1), (1, 9), (7, 13), (64, 33), (1023, 1025), (1024, 1024), (1080, 1920)]
    pairs = []
    for shape in shapes:
        pairs += [(rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8)),
                  (np.zeros(shape, np.uint8), np.full(shape, 255, np.uint8)),
                  (np.full(shape, 128, np.uint8), np.full(shape, 127, np.uint8))]
    want = [(k, fused_overlap_counts(t, p)) for k, (t, p) in enumerate(pairs)]
    for counter in (GpuOverlapCounter(cp, batch_bytes=size) for size in batch_sizes):
        got = [c for k, (t, p) in enumerate(pairs) for c in counter.add(k, t, p)] + counter.finish()
        if sorted(got) != want:
            raise SystemExit(f"GPU counts differ from the CPU kernel: {sorted(got)[:3]} vs {want[:3]}")
    return len(pairs)


def pack(masks_t: list, masks_p: list, host_t: np.ndarray, host_p: np.ndarray) -> Batch:
    batch = Batch(host_t, host_p)
    for k, (t, p) in enumerate(zip(masks_t, masks_p)):
        batch.add(k, t, p)
    return batch


def kernel_bandwidth(cp, masks_t, masks_p, reps: int) -> dict:
    counter = GpuOverlapCounter(cp, batch_bytes=padded(masks_t[0].size) * len(masks_t))
    slot = counter.slots[0]
    batch = pack(masks_t, masks_p, slot["host"].truth, slot["host"].pred)
    slot["truth"].set(batch.truth)
    slot["pred"].set(batch.pred)
    first = cp.asarray(np.array(batch.first, np.int64))
    words = cp.asarray(np.array(batch.words, np.int64))
    counts = cp.zeros(3 * len(batch.keys), np.uint64)
    start, end = cp.cuda.Event(), cp.cuda.Event()

    def run():
        start.record()
        for _ in range(10):
            counter.count(slot["truth"], slot["pred"], first, words, counts, max(batch.words))
        end.record()
        end.synchronize()
        return cp.cuda.get_elapsed_time(start, end) / 1000 / 10

    seconds = statistics.median(run() for _ in range(reps + 1))
    read = 2 * batch.fill
    return {"pairs": len(batch.keys), "seconds_per_batch": seconds, "tb_per_s": read / seconds / 1e12,
            "us_per_pair": seconds / len(batch.keys) * 1e6}


def copy_bandwidth(cp, nbytes: int, reps: int) -> dict:
    import cupyx

    device = cp.empty(nbytes, np.uint8)
    pinned, pageable = cupyx.empty_pinned(nbytes, np.uint8), np.ones(nbytes, np.uint8)
    pinned[:] = 1
    out = {}
    for name, host in (("pinned", pinned), ("pageable", pageable)):
        def copy(host=host):
            device.set(host)
            cp.cuda.Device().synchronize()
        out[f"{name}_gb_per_s"] = nbytes / timed(copy, reps) / 1e9
    return out


def overlapped_stage(cp, masks_t, masks_p, reps: int, rounds: int = 8) -> dict:
    """Copies + counting of pre-packed pinned batches on two streams, alternating."""
    per_batch = padded(masks_t[0].size) * len(masks_t)
    counter = GpuOverlapCounter(cp, batch_bytes=per_batch)
    batches = [pack(masks_t, masks_p, s["host"].truth, s["host"].pred) for s in counter.slots]
    index = [(cp.asarray(np.array(b.first, np.int64)), cp.asarray(np.array(b.words, np.int64))) for b in batches]

    def run():
        for r in range(rounds):
            slot, batch, (first, words) = counter.slots[r % 2], batches[r % 2], index[r % 2]
            stream = slot["stream"]
            with stream:
                slot["truth"].set(batch.truth, stream=stream)
                slot["pred"].set(batch.pred, stream=stream)
                counts = cp.zeros(3 * len(batch.keys), np.uint64)
                counter.count(slot["truth"], slot["pred"], first, words, counts, max(batch.words))
        for slot in counter.slots:
            slot["stream"].synchronize()

    seconds = timed(run, reps)
    moved = 2 * per_batch * rounds
    return {"gb_per_s": moved / seconds / 1e9, "pairs_per_s": len(masks_t) * rounds / seconds}


def counter_end_to_end(cp, masks_t, masks_p, reps: int, batch_bytes: int = BATCH_BYTES) -> dict:
    gpu, cpu = GpuOverlapCounter(cp, batch_bytes), CpuOverlapCounter()

    def through(counter):
        def run():
            for k, (t, p) in enumerate(zip(masks_t, masks_p)):
                counter.add(k, t, p)
            counter.finish()
        return run

    pairs = len(masks_t)
    return {"gpu_pairs_per_s": pairs / timed(through(gpu), reps),
            "cpu_pairs_per_s": pairs / timed(through(cpu), reps)}


def _video_shard(args) -> float:
    """One process: VideoTask.evaluate over its rows (decode + count); returns its seconds."""
    device, gt, pred, rows = args
    from raydeval.engine.shards import to_columns
    from raydeval.evaluate import RunSettings, prepare
    from raydeval.tasks.base import Context

    task, options, g, p, table = prepare("openmmsec-video", gt, pred, {}, RunSettings())
    shard = to_columns(table.slice(rows[0], rows[1] - rows[0]))
    clock = time.perf_counter()
    task.evaluate(shard, Context(options, g.uri, p.uri, {}, device))
    return time.perf_counter() - clock


def video_pipeline(root: str, processes: int, videos: int, frames: int, reps: int) -> dict:
    from bench import generate

    info = generate.video_workload(root, videos, frames, (512, 512), processes=processes)
    bounds = [(i * info["rows"] // processes, (i + 1) * info["rows"] // processes) for i in range(processes)]
    out = {"videos": videos, "frames": frames, "processes": processes}
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for device in ("cpu", "gpu", "cpu", "gpu"):  # each twice: the first of each warms caches
            jobs = [(device, info["gt"], info["pred"], b) for b in bounds]
            walls = []
            for _ in range(reps):
                clock = time.perf_counter()
                pool.map(_video_shard, jobs, chunksize=1)
                walls.append(time.perf_counter() - clock)
            out[f"{device}_seconds"] = statistics.median(walls)
    out["frame_pairs"] = videos * frames
    out["gpu_over_cpu"] = out["cpu_seconds"] / out["gpu_seconds"]
    return out


def render(r: dict, command: str) -> str:
    k, c, s, e = r["kernel"], r["copy"], r["stage"], r["end_to_end"]
    lines = [f"## GPU: {r['gpu']}", "",
             f"Generated by `{command}` on {r['date']} ({platform.python_version()}, CuPy {r['cupy']}, "
             f"NumPy {np.__version__}, {os.cpu_count()} CPUs). Medians of {r['reps']} repetitions.", "",
             "| What | Figure | Target | Met |", "|---|---|---|---|",
             f"| exactness: GPU counts = CPU kernel ({r['exact_pairs']} pairs, odd sizes, small and default buffers) | identical | identical | met |",
             f"| counting kernel, {k['pairs']} pairs of {r['side']}² uint8 masks on the device | {k['tb_per_s']:.2f} TB/s read "
             f"({k['us_per_pair']:.2f} µs/pair) | ≥ 3 TB/s | {'met' if k['tb_per_s'] >= 3 else '**not met**'} |",
             f"| host→device copy, pinned / pageable | {c['pinned_gb_per_s']:.1f} / {c['pageable_gb_per_s']:.1f} GB/s | – | – |",
             f"| GPU stage: pinned batches, copies + counting overlapped on two streams | {s['gb_per_s']:.1f} GB/s = "
             f"{s['gb_per_s'] / c['pinned_gb_per_s']:.2f}× pinned copy ({s['pairs_per_s']:,.0f} pairs/s) | ≥ 0.8× | "
             f"{'met' if s['gb_per_s'] >= 0.8 * c['pinned_gb_per_s'] else '**not met**'} |",
             f"| raydeval's GPU counter from decoded masks, one process (packing included) vs CPU kernel, one core | "
             f"{e['gpu_pairs_per_s']:,.0f} vs {e['cpu_pairs_per_s']:,.0f} pairs/s | – | – |"]
    if "pipeline" in r:
        p = r["pipeline"]
        lines.append(f"| video task (decode + count), {p['processes']} processes, {p['frame_pairs']} frame pairs "
                     f"512²: --device gpu vs cpu | {p['gpu_over_cpu']:.2f}× ({p['cpu_seconds']:.2f} s → "
                     f"{p['gpu_seconds']:.2f} s) | ≥ 1.3× | {'met' if p['gpu_over_cpu'] >= 1.3 else '**not met**'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=512)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--pipeline", action="store_true", help="also time the video task on --processes")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--videos", type=int, default=64)
    parser.add_argument("--data", default="/tmp/raydeval-bench-gpu")
    parser.add_argument("--out", help="write the Markdown section here")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    import cupy as cp

    if not cp.cuda.is_available():
        raise SystemExit("bench.gpu: no GPU is visible")
    rng = np.random.default_rng(1)
    masks_t = blob_masks(rng, args.pairs, args.side)
    masks_p = [np.roll(m, 7, axis=1) for m in masks_t]
    r = {"gpu": cp.cuda.runtime.getDeviceProperties(0)["name"].decode(), "cupy": cp.__version__,
         "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "reps": args.reps, "side": args.side}
    r["exact_pairs"] = check_exact(cp)
    r["kernel"] = kernel_bandwidth(cp, masks_t, masks_p, args.reps)
    r["copy"] = copy_bandwidth(cp, 256 << 20, args.reps)
    r["stage"] = overlapped_stage(cp, masks_t[:64], masks_p[:64], args.reps)
    r["end_to_end"] = counter_end_to_end(cp, masks_t, masks_p, args.reps)
    if args.pipeline:
        r["pipeline"] = video_pipeline(args.data, args.processes, args.videos, 96, max(1, args.reps // 2))
    command = "python -m bench.gpu " + " ".join(argv if argv is not None else sys.argv[1:])
    text = render(r, command.strip())
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
