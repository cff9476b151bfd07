"""Random OpenMMSec-style benchmarks for tests: real files, every manifest format and mask kind.

Each generator returns (gt_path, pred_path, gt_rows, pred_rows): the manifests on disk (with
media paths relative to them) and the same rows as plain dicts with absolute paths, which
the independent oracle (tests/oracle.py) scores.
"""

from __future__ import annotations

import os

import av
import numpy as np

from raydeval.demo import write_manifest
from tests import pngref

MASK_KINDS = ("gray8", "gray16", "rgb8", "rgb16", "ga8", "rgba8", "rgba16", "bit1", "npy_bool", "npy_uint8", "npy_float")


def random_mask_file(rng: np.random.Generator, path_stem: str, shape: tuple[int, int], kind: str,
                     empty: bool = False) -> str:
    """A mask of `kind` with raw values near the thresholds (127/128, 32767/32768, 0.5)."""
    h, w = shape
    def u8(*s):
        return np.zeros(s, np.uint8) if empty else rng.choice(np.array([0, 126, 127, 128, 129, 255], np.uint8), s)
    def u16(*s):
        return (np.zeros(s, np.uint16) if empty
                else rng.choice(np.array([0, 32766, 32767, 32768, 65535], np.uint16), s))
    if kind.startswith("npy"):
        path = path_stem + ".npy"
        if kind == "npy_bool":
            np.save(path, np.zeros((h, w), bool) if empty else rng.random((h, w)) < 0.4)
        elif kind == "npy_uint8":
            np.save(path, u8(h, w))
        else:
            values = np.zeros((h, w), np.float32) if empty else rng.choice(
                np.array([0.0, 0.49, 0.5, 0.51, 1.0], np.float32), (h, w))
            np.save(path, values)
        return path
    path = path_stem + ".png"
    arrays = {"gray8": (lambda: u8(h, w), 8), "gray16": (lambda: u16(h, w), 16),
              "rgb8": (lambda: u8(h, w, 3), 8), "rgb16": (lambda: u16(h, w, 3), 16),
              "ga8": (lambda: u8(h, w, 2), 8), "rgba8": (lambda: u8(h, w, 4), 8), "rgba16": (lambda: u16(h, w, 4), 16),
              "bit1": (lambda: (np.zeros((h, w), np.uint8) if empty
                                else (rng.random((h, w)) < 0.4).astype(np.uint8)), 1)}
    make, depth = arrays[kind]
    pngref.write_png(path, make(), depth)
    return path


def random_mask_video(rng: np.random.Generator, path: str, frames: int, shape: tuple[int, int],
                      pix_fmt: str = "gray") -> str:
    """An FFV1 mask video with raw values around 127/128 (gray, or yuv420p with flat chroma)."""
    with av.open(path, "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.height, stream.width = shape
        stream.pix_fmt = pix_fmt
        for _ in range(frames):
            y = rng.choice(np.array([0, 127, 128, 255], np.uint8), shape)
            if rng.random() < 0.2:
                y[:] = 0
            if pix_fmt == "gray":
                frame = av.VideoFrame.from_ndarray(y, format="gray")
            else:
                frame = av.VideoFrame(shape[1], shape[0], "yuv420p")
                for plane, data in zip(frame.planes, (y, np.full((shape[0] // 2, shape[1] // 2), 128, np.uint8),
                                                      np.full((shape[0] // 2, shape[1] // 2), 128, np.uint8))):
                    buf = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
                    buf[: data.shape[0], : data.shape[1]] = data
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _score(rng, label):
    return float(np.clip(np.round(label * 0.3 + rng.random() * 0.7, 1), 0, 1))  # one decimal: ties


def _finish(root, rng, gt, pred, gt_name, pred_name, keep_label, keep_score):
    """Write both manifests (paths relative to each manifest) and return rows with absolute paths."""
    for row in pred:
        if not keep_label:
            row.pop("label")
        if not keep_score:
            row.pop("score")
    order = rng.permutation(len(pred))
    pred = [pred[i] for i in order]
    def relative(rows, base):
        return [{k: (os.path.relpath(v, base) if k == "mask" and v else v) for k, v in r.items()} for r in rows]
    os.makedirs(f"{root}/sub", exist_ok=True)
    write_manifest(f"{root}/{gt_name}", relative(gt, root))
    write_manifest(f"{root}/sub/{pred_name}", relative(pred, f"{root}/sub"))
    return f"{root}/{gt_name}", f"{root}/sub/{pred_name}", gt, pred


def image_benchmark(root: str, seed: int, n: int = 14, gt_format: str = "parquet", pred_format: str = "csv",
                    keep_label: bool = True, keep_score: bool = True):
    rng = np.random.default_rng(seed)
    os.makedirs(f"{root}/m", exist_ok=True)
    gt, pred = [], []
    for i in range(n):
        sid = f"{seed}-{i:03d}"
        label = int(rng.random() < 0.6)
        shape = (int(rng.integers(1, 12)), int(rng.integers(1, 12)))
        kind = MASK_KINDS[int(rng.integers(len(MASK_KINDS)))]
        gt_mask = pred_mask = None
        if label == 1 and rng.random() < 0.8:
            gt_mask = random_mask_file(rng, f"{root}/m/gt{i}", shape, kind, empty=rng.random() < 0.1)
        elif label == 0 and rng.random() < 0.4:
            gt_mask = random_mask_file(rng, f"{root}/m/gt{i}", shape, kind, empty=True)
        if rng.random() < 0.75:
            pkind = MASK_KINDS[int(rng.integers(len(MASK_KINDS)))]
            pred_mask = random_mask_file(rng, f"{root}/m/pr{i}", shape, pkind, empty=rng.random() < 0.15)
        gt.append({"id": sid, "label": label, "mask": gt_mask, "group": "ab"[i % 2]})
        pred.append({"id": sid, "label": int(rng.random() < 0.5) if rng.random() < 0.3 else label,
                     "score": _score(rng, label), "mask": pred_mask})
    return _finish(root, rng, gt, pred, f"gt.{gt_format}", f"pred.{pred_format}", keep_label, keep_score)


def _intervals(rng, frames, canonical):
    if canonical:
        cuts = sorted(set(rng.integers(0, frames + 1, size=int(rng.integers(0, 5))).tolist()))
        pairs = [[a, b] for a, b in zip(cuts[::2], cuts[1::2]) if a < b]
        return pairs
    pairs = []
    for _ in range(int(rng.integers(0, 4))):
        a = int(rng.integers(0, frames))
        pairs.append([a, int(rng.integers(a + 1, frames + 1))])
    return pairs


def video_benchmark(root: str, seed: int, n: int = 10, gt_format: str = "jsonl", pred_format: str = "parquet",
                    keep_label: bool = True, keep_score: bool = True):
    rng = np.random.default_rng(seed)
    os.makedirs(f"{root}/m", exist_ok=True)
    gt, pred = [], []
    for i in range(n):
        sid = f"v{seed}-{i:03d}"
        label = int(rng.random() < 0.7)
        frames = int(rng.integers(3, 12))
        shape = (int(rng.integers(4, 7)) * 2, int(rng.integers(4, 7)) * 2)  # FFV1 yuv420p needs >= 8
        fake = _intervals(rng, frames, canonical=True) if label else []
        guess = _intervals(rng, frames, canonical=False)
        gt_mask = pred_mask = None
        if label and fake and rng.random() < 0.8:
            gt_mask = random_mask_video(rng, f"{root}/m/gt{i}.mkv", frames, shape)
            if rng.random() < 0.8:
                pix = "gray" if rng.random() < 0.5 else "yuv420p"
                pred_mask = random_mask_video(rng, f"{root}/m/pr{i}.mkv", frames, shape, pix)
        gt.append({"id": sid, "label": label, "num_frames": frames, "fake_frames": fake, "mask": gt_mask})
        pred.append({"id": sid, "label": int(rng.random() < 0.5), "score": _score(rng, label),
                     "fake_frames": guess, "mask": pred_mask})
    return _finish(root, rng, gt, pred, f"gt.{gt_format}", f"pred.{pred_format}", keep_label, keep_score)


def audio_benchmark(root: str, seed: int, n: int = 40, gt_format: str = "csv", pred_format: str = "jsonl",
                    keep_label: bool = True, keep_score: bool = True):
    rng = np.random.default_rng(seed)
    gt = [{"id": f"a{seed}-{i:04d}", "label": int(rng.random() < 0.5)} for i in range(n)]
    pred = [{"id": r["id"], "label": int(rng.random() < 0.5), "score": _score(rng, r["label"])} for r in gt]
    os.makedirs(root, exist_ok=True)
    return _finish(root, rng, gt, pred, f"gt.{gt_format}", f"pred.{pred_format}", keep_label, keep_score)


BENCHMARKS = {"openmmsec-image": image_benchmark, "openmmsec-video": video_benchmark,
              "openmmsec-audio": audio_benchmark}
