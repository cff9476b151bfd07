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


def _roc(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Cumulative (TP, FP) at each distinct score, descending, after the point (0, 0), and P, N."""
    dtype = np.int64 if int(pos.sum()) * int(neg.sum()) < 2**62 else object  # object: exact Python ints
    tps = np.concatenate([[0], np.cumsum(pos[::-1].astype(dtype))])
    fps = np.concatenate([[0], np.cumsum(neg[::-1].astype(dtype))])
    return tps, fps, int(tps[-1]), int(fps[-1])


def eer_roc_fpr(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """DeepfakeBench's EER: the FPR at the first point of scikit-learn's `roc_curve` (collinear
    points dropped, `drop_intermediate=True`) minimising |FNR - FPR|, all in float64 as there."""
    tps, fps, n_pos, n_neg = _roc(pos, neg)
    if n_pos == 0 or n_neg == 0:
        return None
    tps, fps = tps[1:], fps[1:]
    if tps.size > 2:  # roc_curve keeps the ends and every corner
        corner = (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0)
        keep = np.concatenate([[True], corner, [True]])
        tps, fps = tps[keep], fps[keep]
    fpr = np.concatenate([[0], fps]).astype(np.float64) / n_neg
    tpr = np.concatenate([[0], tps]).astype(np.float64) / n_pos
    return float(fpr[np.argmin(np.abs((1 - tpr) - fpr))])


def eer_interp(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """HAMMER's EER: the FPR where the ROC polyline crosses FPR = 1 - TPR, solved exactly and
    rounded once (HAMMER finds the same root with brentq to within 2e-12)."""
    tps, fps, n_pos, n_neg = _roc(pos, neg)
    if n_pos == 0 or n_neg == 0:
        return None
    # along the curve, s = TP·N + FP·P grows from 0 to 2PN; the crossing is where it reaches PN
    s = tps * n_neg + fps * n_pos
    k = int(np.searchsorted(s, n_pos * n_neg))  # first point on or past the line (k >= 1)
    a, b = int(s[k - 1]), int(s[k])
    step = Fraction(n_pos * n_neg - a, b - a)
    return float((int(fps[k - 1]) + step * (int(fps[k]) - int(fps[k - 1]))) / n_neg)


def eer_exact(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """The ASVspoof EER with exact arithmetic: the same DET points (one sample at a time, targets
    before non-targets among equal scores), the first minimising |FRR - FAR| as rationals, and
    (FRR + FAR)/2 rounded once.

    With T targets and N non-targets, D = misses·N - false_alarms·T grows by N per target and by T
    per non-target, so |D| (∝ |FRR - FAR|) is smallest at the last point with D < 0 or the next one.
    """
    n_tar, n_non = int(pos.sum()), int(neg.sum())
    if n_tar == 0 or n_non == 0:
        return None
    dtype = np.int64 if n_tar * n_non < 2**61 else object
    misses, passed = np.cumsum(pos.astype(dtype)), np.cumsum(neg.astype(dtype))
    d_end = misses * n_non - (n_non - passed) * n_tar  # D after each score's samples
    g = int(np.searchsorted(d_end, 0))  # the score whose samples reach D >= 0
    m0 = int(misses[g - 1]) if g else 0
    p0 = int(passed[g - 1]) if g else 0
    d0 = m0 * n_non - (n_non - p0) * n_tar  # < 0, before that score's samples
    if d0 + int(pos[g]) * n_non >= 0:  # crossed among its targets
        i = -d0 // n_non + (-d0 % n_non > 0)
        after, before = (m0 + i, p0), (m0 + i - 1, p0)
    else:  # crossed among its non-targets
        d1 = d0 + int(pos[g]) * n_non
        j = -d1 // n_tar + (-d1 % n_tar > 0)
        after, before = (m0 + int(pos[g]), p0 + j), (m0 + int(pos[g]), p0 + j - 1)

    def gap(point):
        return abs(point[0] * n_non - (n_non - point[1]) * n_tar)

    m, p = before if gap(before) <= gap(after) else after
    return float((Fraction(m, n_tar) + Fraction(n_non - p, n_non)) / 2)


EER_VARIANTS = {"asvspoof": eer_asvspoof, "roc_fpr": eer_roc_fpr, "interp": eer_interp, "exact": eer_exact}


# --- ASVspoof 5 track 1 (bona fide = target = positive, higher score) --------------------------

def min_dcf(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray, p_spoof: float, c_miss: float,
            c_fa: float) -> float | None:
    """The ASVspoof 5 normalised minimum DCF over the package's DET points, in its float64 order
    of operations. Among equal scores the cost first rises (targets) then falls (non-targets), so
    its minimum lies where a score's samples start or end: those points are enough."""
    n_tar, n_non = int(pos.sum()), int(neg.sum())
    if n_tar == 0 or n_non == 0:
        return None
    frr = np.concatenate([[0.0], np.cumsum(pos) / n_tar])
    far = np.concatenate([[1.0], (n_non - np.cumsum(neg)) / n_non])
    p_target = 1 - p_spoof
    cost = c_miss * frr * p_target + c_fa * far * (1 - p_target)
    return float(np.min(cost) / min(c_miss * p_target, c_fa * (1 - p_target)))


def act_dcf(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray, p_spoof: float, c_miss: float,
            c_fa: float) -> float | None:
    """The ASVspoof 5 normalised actual DCF at the Bayes threshold -ln β (scores as LLRs): a target
    below it is a miss, a non-target at or above it a false alarm."""
    n_tar, n_non = int(pos.sum()), int(neg.sum())
    if n_tar == 0 or n_non == 0:
        return None
    threshold = -np.log(c_miss * (1 - p_spoof) / (c_fa * p_spoof))
    below = scores < threshold
    rate_miss = int(pos[below].sum()) / n_tar
    rate_fa = int(neg[~below].sum()) / n_non
    cost = c_miss * (1 - p_spoof) * rate_miss + c_fa * p_spoof * rate_fa
    return float(cost / min(c_fa * p_spoof, c_miss * (1 - p_spoof)))


def cllr(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """Cllr of scores read as natural-log LLRs: ½·(mean log(1+e^-s) over targets + mean
    log(1+e^s) over non-targets) / ln 2. Per-sample terms are the package's float64
    `log1p(exp(x))` (x itself where exp overflows, its value to double precision); the means are
    correctly rounded from exact sums."""
    n_tar, n_non = int(pos.sum()), int(neg.sum())
    if n_tar == 0 or n_non == 0:
        return None
    means = []
    for x, counts, n in ((-scores, pos, n_tar), (scores, neg, n_non)):
        with np.errstate(over="ignore"):
            terms = np.log1p(np.exp(x))
        terms = np.where(np.isinf(terms), x, terms)
        means.append(mean_from_units(exact_sum_units(np.repeat(terms, counts)), n))
    return float(0.5 * (means[0] + means[1]) / np.log(2))


# --- ASVspoof 2021 min t-DCF (revised 2019 definition; REFERENCE_METRICS §4.2) -----------------

def asv_error_rates(target: np.ndarray, nontarget: np.ndarray, spoof: np.ndarray) -> dict:
    """The ASV error rates of the ASVspoof 2021 package at its ASV EER threshold.

    The threshold is the package's: on the DET of targets vs non-targets (ascending stable sort,
    targets first among ties, from the point (0, 1)), the score of the last sample taken at the
    first point minimising |FRR - FAR| (never the point (0, 1): the next one is closer). A trial
    is accepted iff its score >= the threshold; the rates are float64 divisions of the counts.
    """
    both = np.concatenate([target, nontarget])
    order = np.argsort(both, kind="stable")
    misses = np.cumsum(order < target.size)
    passed = np.arange(1, order.size + 1) - misses  # non-targets at or below each point
    frr = np.concatenate([[0.0], misses / target.size])
    far = np.concatenate([[1.0], (nontarget.size - passed) / nontarget.size])
    threshold = float(both[order[int(np.argmin(np.abs(frr - far))) - 1]])
    return {"threshold": threshold,
            "p_miss": int(np.count_nonzero(target < threshold)) / target.size,
            "p_fa": int(np.count_nonzero(nontarget >= threshold)) / nontarget.size,
            "p_miss_spoof": int(np.count_nonzero(spoof < threshold)) / spoof.size,
            "p_fa_spoof": int(np.count_nonzero(spoof >= threshold)) / spoof.size}


def tdcf_weights(p_miss_asv: float, p_fa_asv: float, p_fa_spoof_asv: float, cost: dict) -> tuple[float, float, float]:
    """C0, C1, C2 of the t-DCF from the ASV error rates and the cost model (keys p_tar, p_non,
    p_spoof, c_miss, c_fa, c_fa_spoof), in the package's float64 order of operations."""
    c0 = cost["p_tar"] * cost["c_miss"] * p_miss_asv + cost["p_non"] * cost["c_fa"] * p_fa_asv
    c1 = cost["p_tar"] * cost["c_miss"] - c0
    c2 = cost["p_spoof"] * cost["c_fa_spoof"] * p_fa_spoof_asv
    return c0, c1, c2


def min_tdcf(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray, c0: float, c1: float,
             c2: float) -> float | None:
    """The package's normalised min t-DCF: min over its CM DET points of (C0 + C1·Pmiss_cm +
    C2·Pfa_cm) / (C0 + min(C1, C2)), in its float64 order of operations. With C1, C2 >= 0 the cost
    rises over a score's targets and falls over its non-targets, so the points where a score's
    samples start or end are enough. None without both classes or with fewer than 3 distinct
    scores (the package asks for soft scores, not decisions)."""
    n_tar, n_non = int(pos.sum()), int(neg.sum())
    if n_tar == 0 or n_non == 0 or np.count_nonzero(pos + neg) < 3:
        return None
    p_miss = np.concatenate([[0.0], np.cumsum(pos) / n_tar])
    p_fa = np.concatenate([[1.0], (n_non - np.cumsum(neg)) / n_non])
    return float(np.min((c0 + c1 * p_miss + c2 * p_fa) / (c0 + min(c1, c2))))
