"""Hand-made results for the report tests, and a screenshot of a representative report.

    python -m tests.render_report [OUT_DIR]

writes OUT_DIR (default: a new temporary folder)/report.html (an image result with breakdown, intervals, scores and per-sample
histograms, compared with a second run) and, where `chromium` is on PATH, OUT_DIR/report.png.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SOURCES = ("camera", "edit", "diffusion", "gan")


def score_counts(labels: np.ndarray, scores: np.ndarray) -> dict:
    """The result's `scores` section: counts of fakes and reals per distinct score, ascending."""
    values, index = np.unique(scores, return_inverse=True)
    pos = np.bincount(index, weights=labels, minlength=len(values)).astype(int)
    neg = np.bincount(index, weights=1 - labels, minlength=len(values)).astype(int)
    return {"score": values.tolist(), "pos": pos.tolist(), "neg": neg.tolist(), "binned": False}


def auc_eer(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    pos, neg = scores[labels == 1], scores[labels == 0]
    auc = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    thresholds = np.unique(scores)
    frr = np.array([(pos < t).mean() for t in thresholds])
    far = np.array([(neg >= t).mean() for t in thresholds])
    k = int(np.argmin(np.abs(frr - far)))
    return float(auc), float((frr[k] + far[k]) / 2)


def image_result(folder: str, seed: int = 0, n: int = 400, sources=SOURCES, ids=None) -> dict:
    """An image result with breakdown by `source`, intervals, scores, and its per-sample file."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.55).astype(int)
    source = np.array(sources)[rng.integers(0, len(sources), n)]
    skill = 0.6 + 0.1 * seed
    scores = np.round(np.where(labels == 1, rng.beta(2 + 3 * skill, 3, n), rng.beta(3, 2 + 3 * skill, n)), 2)
    pixel_f1 = np.where(labels == 1, rng.beta(2 + seed, 2.5, n), np.nan)
    auc, eer = auc_eer(labels, scores)

    def metrics(mask):
        f1 = float(np.nanmean(pixel_f1[mask])) if np.any(labels[mask] == 1) else None
        pred = scores[mask] > 0.5
        acc = float((pred == labels[mask]).mean())
        return {"macro_f1": acc - 0.02, "pixel_f1": f1,
                "score": None if f1 is None else round((acc - 0.02 + f1) / 2, 6),
                "pixel_f1_pooled": None if f1 is None else f1 - 0.01, "auc": auc, "ap": auc - 0.05, "eer": eer}

    def band(value, width):
        return None if value is None else {"lo": value - width, "hi": min(value + width, 1.0), "se": width / 1.96,
                                           "level": 0.95, "replicates": 1000}

    head = metrics(np.ones(n, bool))
    breakdown = {}
    for s in sources:
        cell = metrics(source == s)
        breakdown[s] = {"n": int((source == s).sum()), "metrics": cell,
                        "notes": [] if cell["pixel_f1"] is not None else ["pixel_f1: mean over zero samples"],
                        "intervals": {m: band(cell[m], 0.06) for m in ("macro_f1", "pixel_f1", "score")
                                      if cell[m] is not None}}
    path = os.path.join(folder, f"per_sample_{seed}.parquet")
    pq.write_table(pa.table({
        "id": ids if ids is not None else [f"img{i:05d}" for i in range(n)],
        "source": source.tolist(), "label": labels.tolist(),
        "mask_tp": rng.integers(0, 5000, n), "mask_fp": rng.integers(0, 900, n),
        "pixel_f1": pa.array(pixel_f1, from_pandas=True), "pred_label": (scores > 0.5).astype(int),
        "score": scores}), path)
    return {
        "schema": "raydeval.result/1", "task": "openmmsec-image", "metrics": head,
        "counts": {"samples": n, "tp": int(((scores > 0.5) & (labels == 1)).sum()),
                   "fp": int(((scores > 0.5) & (labels == 0)).sum()), "pixel_images": int(labels.sum())},
        "notes": [], "conventions": {
            "positive": "fake", "threshold": "score > 0.5", "authentic_policy": "exclude",
            "weights": {"macro_f1": 0.5, "pixel_f1": 0.5}, "eer": "asvspoof", "missing": "error",
            "group_by": ["source"], "shared_negatives": False,
            "bootstrap": {"replicates": 1000, "seed": 7, "level": 0.95}},
        "inputs": {"gt": {"uri": "s3://bench/openmmsec/image/gt.parquet", "sha256": "ab" * 32, "rows": n},
                   "pred": {"uri": f"/data/submissions/team-{seed}/image.parquet", "sha256": "cd" * 32, "rows": n}},
        "run": {"raydeval": "0.1.0", "started": "2026-12-06T04:11:38+00:00", "seconds": 2.8 + seed, "ray": "local",
                "workers": 2, "shards": 4, "shards_reused": 0, "shards_retried": 0, "device": "cpu",
                "versions": {"python": "3.11.7", "ray": "2.60.0"}},
        "breakdown": {"source": breakdown},
        "intervals": {m: band(v, 0.03) for m, v in head.items() if v is not None},
        "scores": score_counts(labels, scores),
        "per_sample": {"uri": path, "rows": n},
    }


def video_result() -> dict:
    """A small video result without the optional sections."""
    return {
        "schema": "raydeval.result/1", "task": "openmmsec-video",
        "metrics": {"micro_f1": 0.71, "mtiou": 0.52, "mviou": None, "score": None, "frame_f1": 0.66,
                    "auc": 0.74, "ap": 0.7, "eer": 0.31},
        "counts": {"samples": 60, "tp": 20}, "notes": ["mviou: mean over zero samples"],
        "conventions": {"positive": "fake", "weights": {"micro_f1": 0.6, "mtiou": 0.2, "mviou": 0.2}},
        "inputs": {"gt": {"uri": "gt.parquet", "sha256": "ef" * 32, "rows": 60}},
        "run": {"raydeval": "0.1.0", "started": "2026-12-06T05:00:00+00:00", "seconds": 1.0, "ray": "in-process",
                "workers": 1, "shards": 1, "device": "cpu"},
    }


def write_json(path: str, result: dict) -> str:
    with open(path, "w") as f:
        json.dump(result, f)
    return path


def screenshot(html: str, png: str, height: int = 3000) -> None:
    """A headless Chromium screenshot of a local page (no network, a fresh profile)."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size=1280,{height}",
                        "file://" + os.path.abspath(html)], check=True, capture_output=True, timeout=120)


def main(out: str) -> None:
    from raydeval.cli import main as cli

    os.makedirs(out, exist_ok=True)
    first = write_json(os.path.join(out, "baseline.json"), image_result(out, 0))
    second = write_json(os.path.join(out, "candidate.json"), image_result(out, 1))
    html = os.path.join(out, "report.html")
    if cli(["report", first, second, "-o", html]) != 0:
        sys.exit("report failed")
    if shutil.which("chromium"):
        screenshot(html, os.path.join(out, "report.png"), height=7000)
        print(os.path.join(out, "report.png"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="raydeval-report-"))
