"""`raydeval demo`: a small synthetic OpenMMSec-style benchmark and an imperfect submission.

The writers here (PNG/.npy masks, FFV1 mask videos, WAV clips) are the documented formats,
so the demo doubles as an example of what a benchmark directory looks like.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import av
import numpy as np
import pyarrow as pa
import pyarrow.csv  # noqa: F401  (pa.csv)
import pyarrow.parquet as pq
import soundfile
from PIL import Image

IMAGE_SHAPE = (96, 128)
VIDEO_SHAPE = (48, 64)
VIDEO_FRAMES = (16, 40)


def blob_mask(rng: np.random.Generator, shape: tuple[int, int], blobs: int = 2) -> np.ndarray:
    """Random elliptical forged regions."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros(shape, dtype=bool)
    for _ in range(blobs):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(2, h / 3), rng.uniform(2, w / 3)
        mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return mask


def perturb(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """A plausible prediction of `mask`: shifted, with some pixels flipped."""
    shifted = np.roll(mask, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
    return shifted ^ (rng.random(mask.shape) < 0.01)


def write_mask(path: str, mask: np.ndarray, kind: str = "png8") -> None:
    """A boolean mask in one of the documented encodings."""
    if kind == "png8":
        Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    elif kind == "png1":
        Image.fromarray(mask).save(path)
    elif kind == "png16":
        Image.fromarray(mask.astype(np.uint16) * 65535).save(path)
    elif kind == "rgb8":
        Image.fromarray(np.repeat(mask[:, :, None].astype(np.uint8) * 255, 3, axis=2)).save(path)
    elif kind == "npy":
        np.save(path, mask)
    else:
        raise ValueError(kind)


def write_mask_video(path: str, frames: list[np.ndarray]) -> None:
    """Boolean frames as a lossless FFV1 gray video in Matroska."""
    with av.open(path, "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "gray"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame.astype(np.uint8) * 255, format="gray")))
        out.mux(stream.encode(None))


def write_manifest(path, rows: list[dict]) -> None:
    """Rows as .parquet, .csv (lists as JSON text) or .jsonl, by extension."""
    path = str(path)
    if path.endswith(".jsonl"):
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    elif path.endswith(".csv"):
        text_rows = [{k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows]
        pa.csv.write_csv(pa.Table.from_pylist(text_rows), path)
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)


def make_image_benchmark(root: str, n: int, rng: np.random.Generator) -> tuple[str, str]:
    os.makedirs(f"{root}/masks", exist_ok=True)
    os.makedirs(f"{root}/submission", exist_ok=True)
    gt, pred = [], []
    kinds = ["png8", "png8", "png1", "png16", "rgb8", "npy"]
    for i in range(n):
        sid, label = f"img{i:05d}", int(rng.random() < 0.6)
        gt_mask = pred_mask = None
        if label and rng.random() < 0.85:  # the rest: fully generated, no localisation
            mask = blob_mask(rng, IMAGE_SHAPE)
            kind = kinds[i % len(kinds)]
            gt_mask = f"masks/{sid}.{'npy' if kind == 'npy' else 'png'}"
            write_mask(f"{root}/{gt_mask}", mask, kind)
            if rng.random() < 0.9:
                pred_mask = f"{sid}.png"
                write_mask(f"{root}/submission/{pred_mask}", perturb(rng, mask))
        score = float(np.clip(label * 0.6 + rng.normal(0.2, 0.2), 0, 1).round(3))
        gt.append({"id": sid, "label": label, "mask": gt_mask, "source": "camera" if not label else "edit",
                   "dataset": ["set-a", "set-b", "set-c"][i % 3]})
        pred.append({"id": sid, "score": score, "mask": pred_mask})
    rng.shuffle(pred)
    write_manifest(f"{root}/gt.parquet", gt)
    write_manifest(f"{root}/submission/pred.csv", pred)
    return f"{root}/gt.parquet", f"{root}/submission/pred.csv"


def make_video_benchmark(root: str, n: int, rng: np.random.Generator) -> tuple[str, str]:
    os.makedirs(f"{root}/masks", exist_ok=True)
    os.makedirs(f"{root}/submission", exist_ok=True)
    gt, pred = [], []
    for i in range(n):
        sid, label = f"vid{i:05d}", int(rng.random() < 0.6)
        frames = int(rng.integers(*VIDEO_FRAMES))
        fake, guess, gt_mask, pred_mask = [], [], None, None
        if label:
            start = int(rng.integers(0, frames - 4))
            fake = [[start, int(rng.integers(start + 2, frames + 1))]]
            s = int(np.clip(fake[0][0] + rng.integers(-3, 4), 0, frames - 1))
            guess = [[s, int(np.clip(fake[0][1] + rng.integers(-3, 4), s + 1, frames))]]
            if rng.random() < 0.8:
                base = blob_mask(rng, VIDEO_SHAPE, 1)
                truth = [base if fake[0][0] <= t < fake[0][1] else np.zeros_like(base) for t in range(frames)]
                gt_mask, pred_mask = f"masks/{sid}.mkv", f"{sid}.mkv"
                write_mask_video(f"{root}/{gt_mask}", truth)
                write_mask_video(f"{root}/submission/{pred_mask}", [perturb(rng, m) for m in truth])
        elif rng.random() < 0.2:
            s = int(rng.integers(0, frames - 1))
            guess = [[s, s + 1]]
        score = float(np.clip(label * 0.5 + rng.normal(0.25, 0.2), 0, 1).round(2))
        gt.append({"id": sid, "label": label, "num_frames": frames, "fake_frames": fake, "mask": gt_mask,
                   "category": ["faceswap", "reenact", "inpaint"][i % 3] if label else "real"})
        pred.append({"id": sid, "score": score, "label": int(score > 0.5), "fake_frames": guess,
                     "mask": pred_mask})
    write_manifest(f"{root}/gt.jsonl", gt)
    write_manifest(f"{root}/submission/pred.jsonl", pred)
    return f"{root}/gt.jsonl", f"{root}/submission/pred.jsonl"


def make_audio_benchmark(root: str, n: int, rng: np.random.Generator) -> tuple[str, str]:
    os.makedirs(f"{root}/wav", exist_ok=True)
    gt, pred = [], []
    for i in range(n):
        sid, label = f"aud{i:05d}", int(rng.random() < 0.5)
        soundfile.write(f"{root}/wav/{sid}.wav", rng.normal(0, 0.1, 4000).astype(np.float32), 16000)
        gt.append({"id": sid, "label": label, "audio": f"wav/{sid}.wav"})
        pred.append({"id": sid, "score": float(np.clip(label * 0.4 + rng.normal(0.3, 0.2), 0, 1))})
    write_manifest(f"{root}/gt.csv", gt)
    write_manifest(f"{root}/pred.parquet", pred)
    return f"{root}/gt.csv", f"{root}/pred.parquet"


def make_temporal_benchmark(root: str, n: int, rng: np.random.Generator) -> tuple[str, str]:
    """AV-Deepfake1M's own files: metadata.json (fake segments in seconds) and a submission JSON
    of [confidence, start, end] proposals, some near the segments, some elsewhere."""
    os.makedirs(root, exist_ok=True)
    meta, submission = [], {}
    for i in range(n):
        name, duration = f"test/{i:05d}.mp4", float(rng.uniform(4, 12))
        segments = []
        for _ in range(int(rng.integers(0, 3))):
            start = round(float(rng.uniform(0, duration - 1)), 2)
            segments.append([start, round(min(duration, start + float(rng.uniform(0.2, 1.0))), 2)])
        meta.append({"file": name, "fake_segments": segments, "duration": round(duration, 2),
                     "modify_type": "both_modified" if segments else "real"})
        proposals = []
        for s, e in segments:
            s, e = round(s + float(rng.normal(0, 0.08)), 2), round(e + float(rng.normal(0, 0.08)), 2)
            proposals.append([round(float(rng.uniform(0.5, 1)), 4), s, max(s, e)])
        for _ in range(int(rng.integers(1, 6))):
            start = float(rng.uniform(0, duration - 0.5))
            proposals.append([round(float(rng.uniform(0, 0.7)), 4), round(start, 2), round(start + 0.5, 2)])
        submission[name] = sorted(proposals, reverse=True)
    with open(f"{root}/metadata.json", "w", encoding="utf-8") as f:
        json.dump(meta, f)
    with open(f"{root}/submission.json", "w", encoding="utf-8") as f:
        json.dump(submission, f)
    return f"{root}/metadata.json", f"{root}/submission.json"


def make_detection_benchmark(root: str, n: int, rng: np.random.Generator) -> tuple[str, str]:
    """Frame scores of n videos (4 frames each; `--video-id video` scores them per video)."""
    os.makedirs(root, exist_ok=True)
    gt, pred = [], []
    for v in range(n):
        label = int(rng.random() < 0.5)
        for f in range(4):
            sid = f"vid{v:05d}/frame{f}"
            gt.append({"id": sid, "label": label, "video": f"vid{v:05d}"})
            pred.append({"id": sid, "score": round(float(np.clip(rng.normal(0.35 + 0.3 * label, 0.2), 0, 1)), 3)})
    write_manifest(f"{root}/gt.parquet", gt)
    write_manifest(f"{root}/pred.csv", pred)
    return f"{root}/gt.parquet", f"{root}/pred.csv"


def make_asvspoof_benchmark(root: str, n: int, rng: np.random.Generator) -> tuple[str, str]:
    """Countermeasure scores as log-likelihood ratios, higher = bona fide (label 0)."""
    os.makedirs(root, exist_ok=True)
    labels = (rng.random(n) < 0.8).astype(int)
    write_manifest(f"{root}/key.csv", [{"id": f"T_{i:06d}", "label": int(y), "attack": f"A{i % 4:02d}" if y else "-"}
                                       for i, y in enumerate(labels)])
    write_manifest(f"{root}/scores.csv", [{"id": f"T_{i:06d}", "score": round(float(rng.normal(3 - 6 * y, 2)), 4)}
                                          for i, y in enumerate(labels)])
    return f"{root}/key.csv", f"{root}/scores.csv"


BENCHMARKS = {"openmmsec-image": ("image", make_image_benchmark),
              "openmmsec-video": ("video", make_video_benchmark),
              "openmmsec-audio": ("audio", make_audio_benchmark),
              "temporal-localization": ("temporal", make_temporal_benchmark),
              "detection": ("detection", make_detection_benchmark),
              "asvspoof": ("asvspoof", make_asvspoof_benchmark)}


DEMO_ANALYSES = {"openmmsec-image": {"group_by": ("dataset",)},  # each fake category against all reals:
                 "openmmsec-video": {"group_by": ("category",), "shared_negatives": True}}


def run_demo(out: str | None, samples: int, workers: int, seed: int) -> list[dict]:
    """Generate, evaluate every task (the OpenMMSec image and video tasks with a breakdown,
    bootstrap intervals and per-sample rows), print a table, write the results and a report."""
    from raydeval.analysis import Analysis
    from raydeval.errors import InputError
    from raydeval.evaluate import RunSettings, evaluate
    from raydeval.io.result import format_table, to_json, write_atomic

    root = out or tempfile.mkdtemp(prefix="raydeval-demo-")
    rng = np.random.default_rng(seed)
    clock = time.monotonic()
    inputs = {}
    for task, (folder, make) in BENCHMARKS.items():
        inputs[task] = make(f"{root}/{folder}", samples, rng)
    print(f"raydeval demo: wrote a {samples}-sample benchmark per task to {root} "
          f"({time.monotonic() - clock:.1f} s)", file=sys.stderr)
    results = []
    for task, (gt, pred) in inputs.items():
        folder = BENCHMARKS[task][0]
        analysis = Analysis(**DEMO_ANALYSES[task], bootstrap=200, seed=seed,
                            per_sample=f"{root}/results/{folder}-samples") if task in DEMO_ANALYSES else None
        result = evaluate(task, gt, pred, settings=RunSettings(workers=workers), analysis=analysis)
        write_atomic(f"{root}/results/{folder}.json", to_json(result))
        results.append(result)
    print(format_table(results))
    print(f"results: {root}/results/ — total {time.monotonic() - clock:.1f} s", file=sys.stderr)
    try:
        from raydeval.report import write_report

        report = write_report(results, f"{root}/report.html", labels=[BENCHMARKS[r["task"]][0] for r in results])
        print(f"report: {report}")
    except InputError as e:  # the report's extra is not installed
        print(f"raydeval demo: no report: {e}", file=sys.stderr)
    return results
