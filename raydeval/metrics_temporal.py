"""Temporal forgery localisation metrics (AV-Deepfake1M, LAV-DF; SPEC §6): per-video matching of
proposals to GT segments, and AP@IoU / AR@N from merged counts.

Two protocols:
* `av1m` reproduces the official scorer (PyPI `avdeepfake1m` 0.0.4, `ap_ar_1d`): float32 values
  and arithmetic throughout; IoU = intersection / (max end - min start), a match needs IoU > t;
  AP matching is GT-major (each GT segment, in annotation order, takes the first unused proposal
  in list order), score-blind and one-to-one; AP walks the pooled proposals by confidence and
  never counts the recall step of the first one; AR@N keeps each video's first N proposals in
  list order and lets one proposal recall several GT segments.
* `activitynet` is the ActivityNet-style evaluation: IoU in float64 (ActivityNet's
  `segment_iou`), a match needs IoU >= t; each proposal, by confidence, takes the unmatched GT
  segment of highest IoU; AP is the interpolated (VOC) precision envelope from recall 0; AR@N
  keeps each video's N most confident proposals; ratios exact, rounded once.

Mergeable state: the per-confidence counts of all proposals and of the true positives at each
AP threshold, and the number of GT segments recalled per (N, threshold). Confidences are
compared as float32 (the official reader's precision); among equal confidences false positives
come before true positives (the pessimistic order: the official scorer uses file order, which no
sharding can keep; the results agree whenever no confidence is shared by a TP and an FP).
"""

from __future__ import annotations

from fractions import Fraction

import numba
import numpy as np

from raydeval.exact import exact_sum_units, mean_from_units
from raydeval.media.backend import compiled
from raydeval.state import ScoreCounts

AP_IOUS = ("0.5", "0.75", "0.9", "0.95")
AR_NS = (50, 30, 20, 10, 5)
AR_IOUS = ("0.5", "0.55", "0.6", "0.65", "0.7", "0.75", "0.8", "0.85", "0.9", "0.95")
SATURATED = 2**24  # the official float32 count of true positives stops growing here (x + 1 == x)


# --- per-video matching (Numba kernels over all videos of a shard) ----------------------------

@numba.njit(inline="always")
def _iou_av1m(ps, pe, ts, te):
    """The official IoU in float32: intersection / (max end - min start); NaN for 0/0."""
    inter = min(pe, te) - max(ps, ts)
    if inter < 0:
        inter = np.float32(0)
    return inter / (max(pe, te) - min(ps, ts))


@numba.njit(inline="always")
def _iou_activitynet(ps, pe, ts, te):
    """ActivityNet's `segment_iou` in float64: intersection / (|P| + |G| - intersection)."""
    inter = min(pe, te) - max(ps, ts)
    if inter < 0:
        inter = 0.0
    return inter / ((pe - ps) + (te - ts) - inter)


@numba.njit(inline="always")
def _recall_counts(iou, p, ns, thresholds, inclusive, recalled):
    """Adds, per (threshold, N), the GT segments whose best IoU over the first min(N, p) proposals
    clears the threshold (the running best skips NaN, as the official f32::max does)."""
    for j in range(iou.shape[1]):
        best = np.empty(p, iou.dtype)
        for i in range(p):
            x = iou[i, j]
            best[i] = x if i == 0 or np.isnan(best[i - 1]) or x > best[i - 1] else best[i - 1]
        for k in range(ns.size):
            if p == 0:
                continue
            b = best[min(ns[k], p) - 1]
            for t in range(thresholds.size):
                if b > thresholds[t] or (inclusive and b >= thresholds[t]):
                    recalled[t, k] += 1


@compiled
def _match_av1m(seg_off, segs, prop_off, props, ap_thr, ar_ns, ar_thr):
    """(is_tp per AP threshold and proposal, recalled per AR threshold and N) of the official scorer."""
    is_tp = np.zeros((ap_thr.size, props.shape[0]), np.bool_)
    recalled = np.zeros((ar_thr.size, ar_ns.size), np.int64)
    for v in range(seg_off.size - 1):
        s0, p0 = seg_off[v], prop_off[v]
        m, p = seg_off[v + 1] - s0, prop_off[v + 1] - p0
        iou = np.empty((p, m), np.float32)
        for i in range(p):
            for j in range(m):
                iou[i, j] = _iou_av1m(props[p0 + i, 1], props[p0 + i, 2], segs[s0 + j, 0], segs[s0 + j, 1])
        for t in range(ap_thr.size):
            used = np.zeros(p, np.bool_)
            for j in range(m):  # GT-major, first unused proposal in list order
                for i in range(p):
                    if not used[i] and iou[i, j] > ap_thr[t]:
                        used[i] = True
                        is_tp[t, p0 + i] = True
                        break
        _recall_counts(iou, p, ar_ns, ar_thr, False, recalled)
    return is_tp, recalled


@compiled
def _match_activitynet(seg_off, segs, prop_off, props, ap_thr, ar_ns, ar_thr):
    """The same for ActivityNet's rules; each video's proposals come most confident first."""
    is_tp = np.zeros((ap_thr.size, props.shape[0]), np.bool_)
    recalled = np.zeros((ar_thr.size, ar_ns.size), np.int64)
    for v in range(seg_off.size - 1):
        s0, p0 = seg_off[v], prop_off[v]
        m, p = seg_off[v + 1] - s0, prop_off[v + 1] - p0
        iou = np.empty((p, m), np.float64)
        for i in range(p):
            for j in range(m):
                iou[i, j] = _iou_activitynet(props[p0 + i, 1], props[p0 + i, 2], segs[s0 + j, 0], segs[s0 + j, 1])
        for t in range(ap_thr.size):
            taken = np.zeros(m, np.bool_)
            for i in range(p):  # proposal-major: the free GT segment of highest IoU (the last of equals)
                best = -1
                for j in range(m):
                    if not taken[j] and iou[i, j] >= ap_thr[t] and (best < 0 or iou[i, j] >= iou[i, best]):
                        best = j
                if best >= 0:
                    taken[best] = True
                    is_tp[t, p0 + i] = True
        _recall_counts(iou, p, ar_ns, ar_thr, True, recalled)
    return is_tp, recalled


def match(protocol: str, seg_off: np.ndarray, segs: np.ndarray, prop_off: np.ndarray,
          props: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float32 confidences, is_tp per AP threshold, recalled per AR threshold and N) of the
    videos whose GT segments `segs[seg_off[v]:seg_off[v+1]]` (start, end) and proposals
    `props[prop_off[v]:prop_off[v+1]]` (confidence, start, end) are given in float64."""
    conf = props[:, 0].astype(np.float32)
    ns = np.array(AR_NS, np.int64)
    if protocol == "av1m":
        f32 = np.float32
        is_tp, recalled = _match_av1m(seg_off, segs.astype(f32), prop_off, props.astype(f32),
                                      np.array(AP_IOUS, f32), ns, np.array(AR_IOUS, f32))
        return conf, is_tp, recalled
    video = np.repeat(np.arange(prop_off.size - 1), np.diff(prop_off))
    order = np.lexsort((-conf, video))  # per video, most confident first (stable: list order on ties)
    is_tp, recalled = _match_activitynet(seg_off, segs, prop_off, np.ascontiguousarray(props[order]),
                                         np.array(AP_IOUS, np.float64), ns, np.array(AR_IOUS, np.float64))
    return conf[order], is_tp, recalled


# --- the per-confidence table, kept in a ScoreCounts --------------------------------------------

BLOCK = 2.0**32


def _rank32(conf: np.ndarray) -> np.ndarray:
    """float32 values as uint32 in the same order (-0 and +0 alike)."""
    bits = (conf + np.float32(0)).view(np.uint32)
    return np.where(bits >> 31, ~bits, bits | np.uint32(1 << 31))


def confidence_table(conf: np.ndarray, is_tp: np.ndarray) -> ScoreCounts:
    """Counts of all proposals (block 0) and of the true positives at each AP threshold (block
    1 + t) per float32 confidence, as one ScoreCounts keyed block·2^32 + the confidence's rank:
    merging ScoreCounts adds the counts of each (block, confidence)."""
    rank = _rank32(conf).astype(np.float64)
    keys = np.concatenate([rank, *((t + 1) * BLOCK + rank[tp] for t, tp in enumerate(is_tp))])
    return ScoreCounts.of(keys, np.ones(keys.size, bool))


def table_blocks(table: ScoreCounts) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ascending uint32 confidence ranks, counts) of block 0 (all proposals) and of each AP threshold."""
    block = (table.scores // BLOCK).astype(np.int64)
    rank = (table.scores % BLOCK).astype(np.uint32)
    return [(rank[block == b], table.pos[block == b]) for b in range(len(AP_IOUS) + 1)]


def tp_positions(all_rank, all_count, tp_rank, tp_count) -> np.ndarray:
    """1-based positions of the true positives among all proposals sorted by confidence,
    descending, false positives first among equal confidences; ascending."""
    above = all_count.sum() - np.cumsum(all_count)  # proposals more confident than each group
    g = np.searchsorted(all_rank, tp_rank)[::-1]  # the TP groups, most confident first
    tp = tp_count[::-1]
    first = above[g] + all_count[g] - tp  # 0-based position of each group's first TP
    within = np.arange(tp.sum()) - np.repeat(np.cumsum(tp) - tp, tp)
    return np.repeat(first, tp) + within + 1


def _sum_unrolled_f32(terms: np.ndarray, length: int, index: np.ndarray) -> np.float32:
    """ndarray's `sum` of a float32 array of `length` holding `terms` at `index` (ascending) and
    zeros elsewhere: eight running sums over whole chunks of 8, paired (0+4, 1+5, 2+6, 3+7) into
    the total, then the remainder added one by one. (Adding a zero changes no sum.)"""
    f32 = np.float32
    head = length - length % 8
    lane_sums = []
    for lane in range(8):
        x = terms[(index < head) & (index % 8 == lane)]
        lane_sums.append(np.cumsum(x, dtype=f32)[-1] if x.size else f32(0))
    total = f32(0)
    for a, b in ((0, 4), (1, 5), (2, 6), (3, 7)):
        total = f32(total + f32(lane_sums[a] + lane_sums[b]))
    for t in terms[index >= head]:
        total = f32(total + t)
    return total


def ap_av1m(positions: np.ndarray, n_items: int, n_gt: int) -> float:
    """The official AP in float32 from the 1-based positions (ascending) of the true positives
    among `n_items` proposals sorted by confidence: the curve (recall, precision) from the anchor
    (1, 0) back to the first proposal, each recall step weighted by the highest precision at or
    beyond it; the step of the first proposal is not part of the curve."""
    f32 = np.float32
    rank = np.arange(1, positions.size + 1)
    acc = np.minimum(rank, SATURATED).astype(f32)
    acc_before = np.minimum(rank - 1, SATURATED).astype(f32)
    precision = acc / ((positions - 1).astype(f32) + f32(1))
    best = np.maximum.accumulate(precision[::-1])[::-1]  # highest precision at this TP or later
    n = f32(n_gt)
    steps = np.abs(acc_before / n - acc / n)
    counted = positions >= 2
    index = (n_items - positions + 1)[counted][::-1]  # the term's place in the official sum
    return float(_sum_unrolled_f32((steps * best)[counted][::-1], n_items, index))


def ap_interpolated(all_rank, all_count, tp_rank, tp_count, n_gt: int) -> float:
    """VOC/ActivityNet AP: Σ over true positives of the precision envelope at their recall, / n_gt.
    Ties are one operating point (the same as false positives first for an envelope). Each
    precision is one float64 division; the sum is exact and divided by n_gt once."""
    tp_at = np.zeros(all_rank.size, np.int64)
    np.add.at(tp_at, np.searchsorted(all_rank, tp_rank), tp_count)
    tp, seen = np.cumsum(tp_at[::-1]), np.cumsum(all_count[::-1])
    envelope = np.maximum.accumulate((tp / seen)[::-1])[::-1]  # every group has a proposal
    return mean_from_units(exact_sum_units(np.repeat(envelope, tp_at[::-1])), n_gt)


def ar_av1m(recalled: list[int], n_gt: int) -> float:
    """The official AR@N in float32: recall per threshold (0 for 0/0), summed in order, / count."""
    f32 = np.float32
    total = f32(0)
    for tp in recalled:
        den = f32(tp) + f32(n_gt - tp)
        total = f32(total + (f32(tp) / den if den else f32(0)))
    return float(total / f32(len(recalled)))


def ar_exact(recalled: list[int], n_gt: int) -> float:
    """Mean recall over thresholds as an exact rational, rounded once."""
    return float(Fraction(sum(recalled), len(recalled) * n_gt))
