"""(c), (d) and the label check: the baselines the benchmark harness compares raydeval with.

The naive loop (Pillow decode + scikit-learn f1_score per image pair, one process), raydeval's
per-pair kernel through Ray Data `map_batches`, and scikit-learn's F1 / ROC AUC on the joined label
manifests (untimed, for the agreement check).
"""

from __future__ import annotations

import os
import time

import numpy as np

from bench import kernels


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
