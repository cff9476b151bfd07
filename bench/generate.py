"""Seeded synthetic workloads for the benchmark harness (never written into the repository).

    python -m bench.generate [--out /tmp/raydeval-bench] [--scale 1] [--seed 0]

Workloads (counts at --scale 1; --scale multiplies every count):
* images: 480 GT/prediction pairs of 1024x1024 blob masks, mostly 8-bit PNG (~20 KB each), a few
  16-bit PNG, RGB PNG and .npy; plus 10 % real images without masks (label rows only).
* videos: 32 fake videos with GT and predicted FFV1 gray 512x512 mask videos of 96 frames, plus
  4 real videos without masks.
* labels: audio-task label/score manifests of 100k and 1M rows: string ids, scores rounded to
  3 decimals (many ties), predictions in shuffled order.

Every workload lives in its own folder named by its parameters, with a `workload.json` written
last; an existing complete folder is reused, so repeated harness runs do not regenerate media.
Each sample is generated from its own seed (`[seed, index]`), so the files do not depend on how
many processes wrote them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from raydeval.io.result import write_atomic

DEFAULT_ROOT = "/tmp/raydeval-bench"
DEFAULTS = {
    "image_pairs": 480,
    "image_shape": (1024, 1024),
    "videos": 32,
    "video_frames": 96,
    "video_shape": (512, 512),
    "label_rows": (100_000, 1_000_000),
    "scale_rows": (1_000_000, 10_000_000, 100_000_000),  # manifests at scale (fresh-process runs)
    "image_manifest_rows": (1_000_000, 4_000_000),  # image manifests at scale (fresh-process runs)
}
MANIFEST_VERSION = 1  # bump when the generated content changes


# --- masks ---------------------------------------------------------------------------------

def blobs(rng: np.random.Generator, shape: tuple[int, int], count: int, min_r: float = 8.0) -> np.ndarray:
    """Random filled ellipses, computed only inside their bounding boxes (fast at 1024²)."""
    h, w = shape
    mask = np.zeros(shape, dtype=bool)
    for _ in range(count):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(min_r, h / 4), rng.uniform(min_r, w / 4)
        y0, y1 = max(0, int(cy - ry)), min(h, int(cy + ry) + 1)
        x0, x1 = max(0, int(cx - rx)), min(w, int(cx + rx) + 1)
        yy = np.arange(y0, y1)[:, None]
        xx = np.arange(x0, x1)[None, :]
        mask[y0:y1, x0:x1] |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return mask


def speckle(rng: np.random.Generator, mask: np.ndarray, rate: float) -> np.ndarray:
    """Flip about `rate` of the pixels (annotation / prediction noise; gives ~20 KB PNGs)."""
    out = mask.copy()
    flat = out.reshape(-1)
    flips = rng.integers(0, flat.size, rng.binomial(flat.size, rate))
    flat[flips] ^= True
    return out


def predict(rng: np.random.Generator, mask: np.ndarray, rate: float) -> np.ndarray:
    """A plausible prediction: shifted by a few pixels, an occasional extra blob, speckled."""
    shift = (int(rng.integers(-6, 7)), int(rng.integers(-6, 7)))
    guess = np.roll(mask, shift, axis=(0, 1))
    if rng.random() < 0.3:
        guess |= blobs(rng, mask.shape, 1)
    return speckle(rng, guess, rate)


# --- images --------------------------------------------------------------------------------

def _image_kinds(i: int) -> tuple[str, str]:
    """(GT kind, prediction kind) of pair i: mostly 8-bit PNG, a few of each other format."""
    gt = {7: "png16", 17: "rgb8", 27: "npy"}.get(i % 50, "png8")
    pred = "npy" if i % 50 == 37 else "png8"
    return gt, pred


def _ext(kind: str) -> str:
    return "npy" if kind == "npy" else "png"


def _write_image_pair(args) -> None:
    folder, i, seed, shape = args
    from raydeval.demo import write_mask

    rng = np.random.default_rng([seed, i])
    truth = speckle(rng, blobs(rng, shape, int(rng.integers(1, 4))), 0.004)
    guess = predict(rng, truth, 0.005)
    gt_kind, pred_kind = _image_kinds(i)
    write_mask(f"{folder}/masks/img-{i:06d}.{_ext(gt_kind)}", truth, gt_kind)
    write_mask(f"{folder}/submission/img-{i:06d}.{_ext(pred_kind)}", guess, pred_kind)


def image_workload(root: str = DEFAULT_ROOT, pairs: int = DEFAULTS["image_pairs"],
                   shape: tuple[int, int] = DEFAULTS["image_shape"], seed: int = 0,
                   real_fraction: float = 0.1, processes: int = 2) -> dict:
    """GT and prediction manifests of `pairs` fake images with mask pairs (+ real images)."""
    h, w = shape
    folder = f"{root}/images-{pairs}p-{h}x{w}-seed{seed}"
    params = {"kind": "images", "version": MANIFEST_VERSION, "pairs": pairs, "shape": [h, w],
              "seed": seed, "real_fraction": real_fraction}
    done = _reuse(folder, params)
    if done:
        return done
    os.makedirs(f"{folder}/masks")
    os.makedirs(f"{folder}/submission")
    _run([(folder, i, seed, (h, w)) for i in range(pairs)], _write_image_pair, processes)

    rng = np.random.default_rng([seed, 10**9])
    reals = int(round(pairs * real_fraction))
    gt_rows, pred_rows = [], []
    for i in range(pairs):
        gt_kind, pred_kind = _image_kinds(i)
        sid = f"img-{i:06d}"
        score = float(np.clip(rng.normal(0.62, 0.2), 0, 1).round(3))
        gt_rows.append({"id": sid, "label": 1, "mask": f"masks/{sid}.{_ext(gt_kind)}", "source": "edit"})
        pred_rows.append({"id": sid, "score": score, "mask": f"{sid}.{_ext(pred_kind)}"})
    for i in range(reals):
        sid = f"real-{i:06d}"
        score = float(np.clip(rng.normal(0.35, 0.2), 0, 1).round(3))
        gt_rows.append({"id": sid, "label": 0, "mask": None, "source": "camera"})
        pred_rows.append({"id": sid, "score": score, "mask": None})
    order = rng.permutation(len(pred_rows))
    pred_rows = [pred_rows[k] for k in order]
    schema_gt = pa.schema([("id", pa.string()), ("label", pa.int8()), ("mask", pa.string()),
                           ("source", pa.string())])
    schema_pred = pa.schema([("id", pa.string()), ("score", pa.float64()), ("mask", pa.string())])
    pq.write_table(pa.Table.from_pylist(gt_rows, schema_gt), f"{folder}/gt.parquet")
    pq.write_table(pa.Table.from_pylist(pred_rows, schema_pred), f"{folder}/submission/pred.parquet")
    pair_paths = [(r["id"], f"{folder}/{r['mask']}", f"{folder}/submission/{r['id']}.{_ext(_image_kinds(i)[1])}")
                  for i, r in enumerate(gt_rows[:pairs])]
    info = {**params, "folder": folder, "gt": f"{folder}/gt.parquet",
            "pred": f"{folder}/submission/pred.parquet", "rows": len(gt_rows), "pair_paths": pair_paths}
    return _finish(folder, info)


# --- videos --------------------------------------------------------------------------------

def _intervals(rng: np.random.Generator, frames: int) -> tuple[list, list]:
    start = int(rng.integers(0, max(1, frames // 4)))
    end = int(rng.integers(frames // 2 + 1, frames + 1))
    p0 = int(np.clip(start + rng.integers(-3, 4), 0, frames - 1))
    p1 = int(np.clip(end + rng.integers(-3, 4), p0 + 1, frames))
    return [[start, end]], [[p0, p1]]


def _write_video_pair(args) -> None:
    folder, i, seed, frames, shape = args
    from raydeval.demo import write_mask_video

    rng = np.random.default_rng([seed, i])
    truth_iv, guess_iv = _intervals(rng, frames)
    base = blobs(rng, shape, int(rng.integers(1, 3)))
    dy, dx = int(rng.integers(-3, 4)), int(rng.integers(-3, 4))
    empty = np.zeros(shape, dtype=bool)
    truth, guess = [], []
    for t in range(frames):
        moved = np.roll(base, (dy * t, dx * t), axis=(0, 1))
        gt_frame = moved if truth_iv[0][0] <= t < truth_iv[0][1] else empty
        truth.append(gt_frame)
        guess.append(predict(rng, moved, 0.002) if guess_iv[0][0] <= t < guess_iv[0][1] else empty)
    write_mask_video(f"{folder}/masks/vid-{i:05d}.mkv", truth)
    write_mask_video(f"{folder}/submission/vid-{i:05d}.mkv", guess)


def video_workload(root: str = DEFAULT_ROOT, videos: int = DEFAULTS["videos"],
                   frames: int = DEFAULTS["video_frames"], shape: tuple[int, int] = DEFAULTS["video_shape"],
                   seed: int = 0, real_fraction: float = 0.125, processes: int = 2) -> dict:
    """GT and prediction manifests of `videos` fake videos with FFV1 mask-video pairs (+ real ones)."""
    h, w = shape
    folder = f"{root}/videos-{videos}v-{frames}f-{h}x{w}-seed{seed}"
    params = {"kind": "videos", "version": MANIFEST_VERSION, "videos": videos, "frames": frames,
              "shape": [h, w], "seed": seed, "real_fraction": real_fraction}
    done = _reuse(folder, params)
    if done:
        return done
    os.makedirs(f"{folder}/masks")
    os.makedirs(f"{folder}/submission")
    _run([(folder, i, seed, frames, (h, w)) for i in range(videos)], _write_video_pair, processes)

    gt_rows, pred_rows = [], []
    for i in range(videos):
        rng = np.random.default_rng([seed, i])
        truth_iv, guess_iv = _intervals(rng, frames)  # the same draws as the writer's
        sid = f"vid-{i:05d}"
        score = float(np.clip(np.random.default_rng([seed, i, 1]).normal(0.65, 0.2), 0, 1).round(2))
        gt_rows.append({"id": sid, "label": 1, "num_frames": frames, "fake_frames": truth_iv,
                        "mask": f"masks/{sid}.mkv", "category": ["faceswap", "reenact"][i % 2]})
        pred_rows.append({"id": sid, "score": score, "fake_frames": guess_iv, "mask": f"{sid}.mkv"})
    rng = np.random.default_rng([seed, 10**9])
    for i in range(int(round(videos * real_fraction))):
        sid = f"real-{i:05d}"
        gt_rows.append({"id": sid, "label": 0, "num_frames": frames, "fake_frames": [], "mask": None,
                        "category": "real"})
        pred_rows.append({"id": sid, "score": float(np.clip(rng.normal(0.3, 0.2), 0, 1).round(2)),
                          "fake_frames": [], "mask": None})
    pred_rows = [pred_rows[k] for k in rng.permutation(len(pred_rows))]
    intervals = pa.list_(pa.list_(pa.int64()))
    schema_gt = pa.schema([("id", pa.string()), ("label", pa.int8()), ("num_frames", pa.int64()),
                           ("fake_frames", intervals), ("mask", pa.string()), ("category", pa.string())])
    schema_pred = pa.schema([("id", pa.string()), ("score", pa.float64()), ("fake_frames", intervals),
                             ("mask", pa.string())])
    pq.write_table(pa.Table.from_pylist(gt_rows, schema_gt), f"{folder}/gt.parquet")
    pq.write_table(pa.Table.from_pylist(pred_rows, schema_pred), f"{folder}/submission/pred.parquet")
    pair_paths = [(r["id"], f"{folder}/{r['mask']}", f"{folder}/submission/{r['id']}.mkv")
                  for r in gt_rows[:videos]]
    info = {**params, "folder": folder, "gt": f"{folder}/gt.parquet",
            "pred": f"{folder}/submission/pred.parquet", "rows": len(gt_rows), "pair_paths": pair_paths}
    return _finish(folder, info)


# --- labels (audio task) ---------------------------------------------------------------------

def label_workload(root: str = DEFAULT_ROOT, rows: int = 100_000, seed: int = 0) -> dict:
    """Audio-task GT (id, label) and prediction (id, score) manifests of `rows` clips."""
    folder = f"{root}/labels-{rows}r-seed{seed}"
    params = {"kind": "labels", "version": MANIFEST_VERSION, "rows": rows, "seed": seed}
    done = _reuse(folder, params)
    if done:
        return done
    os.makedirs(folder)
    rng = np.random.default_rng([seed, rows])
    keys = rng.permutation(rows * 4)[:rows]  # unique, unordered
    ids = pa.array([f"clip_{k:08x}" for k in keys.tolist()], pa.string())
    label, score = _labels_and_scores(rng, rows)
    order = rng.permutation(rows)
    return _write_pair(folder, params, pa.table({"id": ids, "label": label}),
                       pa.table({"id": ids.take(pa.array(order)), "score": score[order]}))


def image_manifest_workload(root: str = DEFAULT_ROOT, rows: int = 1_000_000, seed: int = 0) -> dict:
    """Image-task GT (id, label, mask, dataset) and prediction (id, score, mask) manifests of `rows`
    images whose masks are all absent (a measure of the join, not of the decoder)."""
    folder = f"{root}/image-manifests-{rows}r-seed{seed}"
    params = {"kind": "image-manifests", "version": MANIFEST_VERSION, "rows": rows, "seed": seed}
    done = _reuse(folder, params)
    if done:
        return done
    os.makedirs(folder)
    rng = np.random.default_rng([seed, rows, 1])
    ids = pa.array([f"img_{k:09d}" for k in range(rows)], pa.string())
    label, score = _labels_and_scores(rng, rows)
    dataset = pa.array(np.array(["a", "b", "c", "d"])[rng.integers(0, 4, rows)])
    order = rng.permutation(rows)
    no_masks = pa.nulls(rows, pa.string())
    return _write_pair(folder, params, pa.table({"id": ids, "label": label, "mask": no_masks, "dataset": dataset}),
                       pa.table({"id": ids.take(pa.array(order)), "score": score[order], "mask": no_masks}))


def _labels_and_scores(rng, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Half fake labels, and 3-decimal scores that lean towards them (~1000 distinct values)."""
    label = (rng.random(rows) < 0.5).astype(np.int8)
    return label, np.clip(label * 0.35 + rng.normal(0.3, 0.2, rows), 0, 1).round(3)


def _write_pair(folder: str, params: dict, gt: pa.Table, pred: pa.Table) -> dict:
    """Writes a workload's GT and prediction manifests (Parquet); its info."""
    pq.write_table(gt, f"{folder}/gt.parquet")
    pq.write_table(pred, f"{folder}/pred.parquet")
    return _finish(folder, {**params, "folder": folder, "gt": f"{folder}/gt.parquet", "pred": f"{folder}/pred.parquet"})


# --- helpers ---------------------------------------------------------------------------------

def _reuse(folder: str, params: dict) -> dict | None:
    """The info of a complete folder with the same parameters; else clears the folder."""
    path = f"{folder}/workload.json"
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
        if all(info.get(k) == v for k, v in params.items()):
            if "pair_paths" in info:
                info["pair_paths"] = [tuple(p) for p in info["pair_paths"]]
            return info
    if os.path.exists(folder):
        shutil.rmtree(folder)
    return None


def _finish(folder: str, info: dict) -> dict:
    write_atomic(f"{folder}/workload.json", json.dumps(info))
    return info


def _run(jobs: list, fn, processes: int) -> None:
    """fn over jobs, in `processes` spawned processes (spawn: safe next to a running Ray)."""
    if processes <= 1 or len(jobs) < 4:
        for job in jobs:
            fn(job)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=ctx) as pool:
        list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (8 * processes))))


def scaled(scale: float) -> dict:
    """Default workload sizes with every count multiplied by `scale` (at least 1 of each)."""
    return {**DEFAULTS,
            "image_pairs": max(1, round(DEFAULTS["image_pairs"] * scale)),
            "videos": max(1, round(DEFAULTS["videos"] * scale)),
            "label_rows": tuple(max(10, round(r * scale)) for r in DEFAULTS["label_rows"]),
            "scale_rows": tuple(max(10, round(r * scale)) for r in DEFAULTS["scale_rows"]),
            "image_manifest_rows": tuple(max(10, round(r * scale)) for r in DEFAULTS["image_manifest_rows"])}


def generate_all(root: str = DEFAULT_ROOT, sizes: dict | None = None, seed: int = 0,
                 processes: int = 2) -> dict:
    """Every workload of `sizes` (default: `scaled(1)`); returns their infos by name."""
    sizes = sizes or scaled(1.0)
    out = {"images": image_workload(root, sizes["image_pairs"], tuple(sizes["image_shape"]), seed=seed,
                                    processes=processes),
           "videos": video_workload(root, sizes["videos"], sizes["video_frames"], tuple(sizes["video_shape"]),
                                    seed=seed, processes=processes)}
    small, large = sizes["label_rows"]
    out["labels_small"] = label_workload(root, small, seed)
    out["labels_large"] = label_workload(root, large, seed)
    out["scale"] = [label_workload(root, rows, seed) if rows <= 10_000_000 else large_label_workload(root, rows)
                    for rows in sizes.get("scale_rows", ())]
    out["image_scale"] = [image_manifest_workload(root, rows, seed) for rows in sizes.get("image_manifest_rows", ())]
    return out


def refuse_repo_path(path: str) -> None:
    """Workloads never go into the repository."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.path.abspath(path)
    if target == repo or target.startswith(repo + os.sep):
        raise SystemExit(f"bench: refusing to write workloads inside the repository ({target})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_ROOT, help="directory for the workloads (not the repo)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    refuse_repo_path(args.out)
    clock = time.monotonic()
    out = generate_all(args.out, scaled(args.scale), args.seed, args.processes)
    for name, info in out.items():
        print(f"{name}: {info['folder']}", file=sys.stderr)
    print(f"generated/reused in {time.monotonic() - clock:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()


def large_label_workload(root: str = DEFAULT_ROOT, rows: int = 100_000_000, batch: int = 4_000_000) -> dict:
    """Audio-task manifests of `rows` clips written in batches (never all rows in memory): ids are a
    bijective hash of the row number (unique, unordered), labels and 3-decimal scores a function of
    it; the predictions in a shuffled order."""
    folder = f"{root}/labels-{rows}r-batched"
    params = {"kind": "labels-batched", "version": MANIFEST_VERSION, "rows": rows}
    done = _reuse(folder, params)
    if done:
        return done
    os.makedirs(folder)
    order = np.random.default_rng(rows).permutation(rows)
    gt_writer = pq.ParquetWriter(f"{folder}/gt.parquet", pa.schema([("id", pa.string()), ("label", pa.int8())]))
    pred_writer = pq.ParquetWriter(f"{folder}/pred.parquet", pa.schema([("id", pa.string()), ("score", pa.float64())]))
    for start in range(0, rows, batch):
        for writer, index in ((gt_writer, np.arange(start, min(rows, start + batch))),
                              (pred_writer, order[start:start + batch])):
            key, bits = _row_hash(index)
            ids = pa.array([f"clip_{k:08x}" for k in key.tolist()], pa.string())
            label = (bits & 1).astype(np.int8)
            if writer is gt_writer:
                writer.write_table(pa.table({"id": ids, "label": label}))
            else:
                noise = ((bits >> 11).astype(np.float64) / 2**53 - 0.5) * 0.69  # uniform, sd 0.2
                writer.write_table(pa.table({"id": ids, "score": np.clip(label * 0.35 + 0.3 + noise, 0, 1).round(3)}))
    gt_writer.close()
    pred_writer.close()
    info = {**params, "folder": folder, "gt": f"{folder}/gt.parquet", "pred": f"{folder}/pred.parquet"}
    return _finish(folder, info)


def _row_hash(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a 32-bit key unique per row below 2**32, 64 random bits) of row numbers."""
    i = index.astype(np.uint64)
    with np.errstate(over="ignore"):
        key = (i * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)  # odd multiplier: a bijection mod 2**32
        x = i + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return key, x ^ (x >> np.uint64(31))
