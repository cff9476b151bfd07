"""Pure metric functions on exact integer counts (SPEC §2).

Ratios are built as `Fraction`s and rounded to float64 once, so a metric depends only on the
merged integers, never on how they were merged.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from raydeval.exact import exact_sum_units, mean_from_units


def ratio(num: int, den: int, zero_division: int = 0) -> Fraction:
    """num / den as an exact Fraction; 0/0 gives `zero_division`."""
    return Fraction(int(num), int(den)) if den else Fraction(zero_division)


def f1(tp: int, fp: int, fn: int, zero_division: int = 0) -> Fraction:
    """Binary F1 = 2TP / (2TP + FP + FN)."""
    return ratio(2 * tp, 2 * tp + fp + fn, zero_division)


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, int]:
    """Integer confusion counts, positive class = 1."""
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    tp = int(np.count_nonzero(t & p))
    pos_true = int(np.count_nonzero(t))
    pos_pred = int(np.count_nonzero(p))
    return {"tp": tp, "fp": pos_pred - tp, "fn": pos_true - tp, "tn": t.size - pos_true - pos_pred + tp}


def macro_f1(c: dict[str, int]) -> Fraction:
    """Mean of the F1 of class 1 and of class 0 (sklearn labels=[0, 1]), exact."""
    return (f1(c["tp"], c["fp"], c["fn"]) + f1(c["tn"], c["fn"], c["fp"])) / 2


def per_sample_f1(tp: int, pred: int, true: int) -> float:
    """F1 = 2TP / (|P| + |G|) of one sample as a correctly rounded float64; 1.0 if both are empty."""
    return 2 * tp / (pred + true) if pred + true else 1.0


def per_sample_iou(inter: int, pred: int, true: int) -> float:
    """IoU = |P∩G| / |P∪G| of one sample as a correctly rounded float64; 1.0 if both are empty."""
    union = pred + true - inter
    return inter / union if union else 1.0


def finish_mean(units: int, n: int) -> float | None:
    """Correctly rounded mean, or None over zero samples."""
    return mean_from_units(units, n) if n else None


# --- threshold-free metrics from per-score counts (SPEC §2.4) ---------------------------

def auc(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """Tie-aware Mann-Whitney AUC from ascending unique scores with per-score counts."""
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return None
    dtype = np.int64 if n_pos * n_neg < 2**62 else object  # object: exact Python ints
    pos, neg = pos.astype(dtype), neg.astype(dtype)
    neg_below = np.cumsum(neg) - neg
    correct, tied = int(np.dot(pos, neg_below)), int(np.dot(pos, neg))
    return Fraction(2 * correct + tied, 2 * n_pos * n_neg).__float__()


def average_precision(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """sklearn's AP: Σ ΔTP_k·TP_k/(TP_k+FP_k) / P over descending thresholds, summed exactly."""
    n_pos = int(pos.sum())
    if n_pos == 0:
        return None
    d_tp, d_fp = pos[::-1].astype(np.int64), neg[::-1].astype(np.int64)
    tp, fp = np.cumsum(d_tp), np.cumsum(d_fp)
    keep = d_tp > 0
    num, den = d_tp[keep] * tp[keep], (tp + fp)[keep]
    if num.size and int(num.max()) < 2**53:
        terms = num / den  # float64 division of exactly representable integers: one rounding
    else:
        terms = np.array([int(a) / int(b) for a, b in zip(num, den)], dtype=np.float64)
    return mean_from_units(exact_sum_units(terms), n_pos)


EER_CHUNK = 1 << 18  # DET points evaluated at a time: bounded memory for any number of samples


def eer_asvspoof(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """EER as the ASVspoof reference code computes it, from per-score counts.

    DET points are taken one sample at a time in ascending score order, targets (positives)
    before non-targets among equal scores; FRR and FAR are float64 divisions; the first point
    minimising |FRR - FAR| wins; the EER is the float64 mean of the two rates there. The points
    are walked in chunks: one byte per sample plus a fixed working set.
    """
    n_tar, n_non = int(pos.sum()), int(neg.sum())
    if n_tar == 0 or n_non == 0:
        return None
    counts = np.stack([pos, neg], axis=1).ravel().astype(np.int64)
    labels = np.repeat(np.tile(np.array([1, 0], dtype=np.int8), len(pos)), counts)
    best, best_gap = (0.0, 1.0), abs(0.0 - 1.0)  # the point before any sample
    targets_before = 0
    for start in range(0, labels.size, EER_CHUNK):
        chunk = labels[start:start + EER_CHUNK]
        tar_sums = targets_before + np.cumsum(chunk, dtype=np.int64)
        non_sums = n_non - (np.arange(start + 1, start + chunk.size + 1) - tar_sums)
        frr, far = tar_sums / n_tar, non_sums / n_non
        gaps = np.abs(frr - far)
        i = int(np.argmin(gaps))
        if gaps[i] < best_gap:  # strictly smaller: the first minimum wins
            best, best_gap = (float(frr[i]), float(far[i])), float(gaps[i])
        targets_before = int(tar_sums[-1])
    return float(np.mean(best))


RANK_METRICS = {"auc": auc, "ap": average_precision, "eer": eer_asvspoof}
