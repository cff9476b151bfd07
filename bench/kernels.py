"""Per-file and per-pair kernels of the baselines, kept light so pool workers import little.

* `floor_*`: the fastest decoder and nothing else (the decode-only floor).
* `naive_*`: the naive loop a benchmark maintainer would write: Pillow + scikit-learn per pair.
* `raydeval_pair_f1s`: raydeval's own per-pair kernel (read, decode, threshold, count, f1),
  used to push the same work through Ray Data.
"""

from __future__ import annotations

import numpy as np


# --- decode-only floor ---------------------------------------------------------------------

def floor_image(path: str) -> int:
    """Read and decode one mask file with the fastest decoder; returns its pixel count."""
    if path.endswith(".npy"):
        return int(np.load(path, allow_pickle=False).size)
    import pyspng

    with open(path, "rb") as f:
        data = f.read()
    return int(pyspng.load(data).shape[0])


def floor_video(path: str) -> int:
    """Decode every frame of a mask video and view its Y plane (no copy); returns the frame count."""
    import av

    frames = 0
    with av.open(path, "r") as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            plane = frame.planes[0]
            np.frombuffer(plane, np.uint8)
            frames += 1
    return frames


def warm(_: int) -> int:
    """Imports the decoders in a pool worker before timing starts."""
    import av  # noqa: F401
    import pyspng  # noqa: F401

    return 0


# --- the naive loop ------------------------------------------------------------------------

def naive_mask(path: str) -> np.ndarray:
    """Pillow decode + SPEC §1.2 thresholds, the obvious way."""
    if path.endswith(".npy"):
        a = np.load(path, allow_pickle=False)
        if a.dtype == np.bool_:
            return a
        return a > (127 if a.dtype == np.uint8 else 0.5)
    from PIL import Image

    with Image.open(path) as img:
        mode = img.mode
        a = np.asarray(img)
    if mode == "1":
        return a.astype(bool)
    if a.ndim == 3:
        return a[:, :, :3].astype(np.float64).mean(axis=2) > (32767 if a.dtype == np.uint16 else 127)
    return a > (32767 if mode.startswith("I") else 127)


def naive_pair_f1(gt_path: str, pred_path: str | None) -> float:
    """Per-image pixel F1 with scikit-learn (1.0 when both masks are empty, SPEC §2.1)."""
    from sklearn.metrics import f1_score

    truth = naive_mask(gt_path)
    guess = naive_mask(pred_path) if pred_path is not None else np.zeros_like(truth)
    return float(f1_score(truth.ravel(), guess.ravel(), labels=[False, True], pos_label=True,
                          average="binary", zero_division=1.0))


# --- raydeval's per-pair kernel (for Ray Data) ---------------------------------------------

def raydeval_pair_f1s(batch: dict) -> dict:
    """`map_batches` function: raydeval's decode + count + per-sample F1 for a batch of pairs."""
    from raydeval.media import read_bytes
    from raydeval.media.backend import forged_pixels, fused_overlap_counts
    from raydeval.media.masks import decode_mask
    from raydeval.metrics import per_sample_f1

    max_pixels = 2**28
    out = []
    for gt, pred in zip(batch["gt"], batch["pred"]):
        truth = decode_mask(read_bytes(str(gt), {}), max_pixels)
        if pred is None or pred == "":
            tp, true_px, pred_px = 0, forged_pixels(truth), 0
        else:
            guess = decode_mask(read_bytes(str(pred), {}), max_pixels)
            tp, true_px, pred_px = fused_overlap_counts(truth, guess)
        out.append(per_sample_f1(tp, pred_px, true_px))
    return {"f1": np.array(out, dtype=np.float64)}
