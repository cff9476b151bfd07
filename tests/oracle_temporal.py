"""Slow, independent reference for `temporal-localization`, written from the descriptions of the
official AV-Deepfake1M scorer (`loc_1d.rs`) and ActivityNet's evaluation, without raydeval.

Videos are (gt_segments, proposals) pairs in GT order: [[start, end], ...] and
[[confidence, start, end], ...] as Python floats. Among equal float32 confidences false positives
come first (raydeval's documented tie order).
"""

from fractions import Fraction

import numpy as np

F = np.float32
AP_IOUS = (0.5, 0.75, 0.9, 0.95)
AR_NS = (50, 30, 20, 10, 5)
AR_IOUS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def iou_av1m(p, g):
    """float32 intersection / (max end - min start)."""
    ps, pe, gs, ge = F(p[0]), F(p[1]), F(g[0]), F(g[1])
    inter = max(min(pe, ge) - max(ps, gs), F(0))
    with np.errstate(invalid="ignore"):
        return F(inter / (max(pe, ge) - min(ps, gs)))


def iou_activitynet(p, g):
    inter = max(0.0, min(p[1], g[1]) - max(p[0], g[0]))
    union = (p[1] - p[0]) + (g[1] - g[0]) - inter
    return inter / union if union else float("nan")


def unrolled_sum(xs):
    """ndarray's float32 sum: eight chains over chunks of 8, paired 0+4, 1+5, 2+6, 3+7, then the rest."""
    chains = [F(0)] * 8
    head = len(xs) - len(xs) % 8
    for k in range(head):
        chains[k % 8] = F(chains[k % 8] + xs[k])
    acc = F(0)
    for a, b in ((0, 4), (1, 5), (2, 6), (3, 7)):
        acc = F(acc + F(chains[a] + chains[b]))
    for x in xs[head:]:
        acc = F(acc + x)
    return acc


def _pooled_ap_av1m(flags, n_gt):
    """The official curve: anchor (1, 0), points from the last proposal back to the first."""
    acc, points = F(0), []
    for i, tp in enumerate(flags):
        if tp:
            acc = F(acc + F(1))
        points.append((F(acc / F(n_gt)), F(acc / F(F(i) + F(1)))))
    curve = [(F(1), F(0))] + points[::-1]
    best, terms = F(0), []
    for k in range(len(curve) - 1):
        best = max(best, curve[k][1])
        terms.append(F(abs(F(curve[k + 1][0] - curve[k][0])) * best))
    return float(unrolled_sum(terms))


def av1m(videos):
    """{ap@t: ..., ar@n: ...} of the official scorer (ties: false positives first)."""
    n_gt = sum(len(g) for g, _ in videos)
    out = {}
    for t in AP_IOUS:
        pooled = []
        for gts, props in videos:
            used = set()
            for g in gts:
                for i, p in enumerate(props):
                    if i not in used and iou_av1m(p[1:], g) > F(t):
                        used.add(i)
                        break
            pooled += [(F(p[0]), i in used) for i, p in enumerate(props)]
        pooled.sort(key=lambda ct: (-ct[0], ct[1]))
        out[f"ap@{t}"] = _pooled_ap_av1m([tp for _, tp in pooled], n_gt)
    for n in AR_NS:
        total = F(0)
        for t in AR_IOUS:
            tp = sum(1 for gts, props in videos for g in gts
                     if props and np.fmax.reduce([iou_av1m(p[1:], g) for p in props[:n]]) > F(t))
            total = F(total + F(F(tp) / F(F(tp) + F(n_gt - tp))))
        out[f"ar@{n}"] = float(F(total / F(len(AR_IOUS))))
    return out


def activitynet(videos):
    """{ap@t: ..., ar@n: ...}: score-major matching to the free GT of highest IoU (>= t; the last of
    equals), VOC-interpolated AP; top-N proposals by confidence for AR; exact means."""
    n_gt = sum(len(g) for g, _ in videos)
    ranked = [sorted(props, key=lambda p: -F(p[0])) for _, props in videos]  # stable: list order on ties
    out = {}
    for t in AP_IOUS:
        pooled = []
        for (gts, _), props in zip(videos, ranked):
            taken = set()
            for p in props:
                ious = [iou_activitynet(p[1:], g) for g in gts]
                free = [j for j, x in enumerate(ious) if j not in taken and x >= t]
                if free:
                    best = max(ious[j] for j in free)
                    taken.add([j for j in free if ious[j] == best][-1])
                pooled.append((F(p[0]), bool(free)))
        pooled.sort(key=lambda ct: (-ct[0], ct[1]))
        tp, precision = 0, []
        for k, (_, hit) in enumerate(pooled):
            tp += hit
            precision.append(tp / (k + 1))
        total = Fraction(0)
        for k, (_, hit) in enumerate(pooled):
            if hit:
                total += Fraction(max(precision[k:]))
        out[f"ap@{t}"] = float(total / n_gt)
    for n in AR_NS:
        hits = sum(1 for t in AR_IOUS for (gts, _), props in zip(videos, ranked) for g in gts
                   if props and max(iou_activitynet(p[1:], g) for p in props[:n]) >= t)
        out[f"ar@{n}"] = float(Fraction(hits, len(AR_IOUS) * n_gt))
    return out
