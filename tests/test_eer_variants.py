"""EER variants (`--eer`) from merged per-score counts against slow independent implementations,
scikit-learn's ROC (DeepfakeBench) and SciPy's root finder (HAMMER), on tied and untied scores."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.metrics import roc_curve

from raydeval import metrics
from raydeval.cli import main
from raydeval.demo import write_manifest
from raydeval.state import ScoreCounts
from tests import oracle

tied = st.sampled_from([0.0, 0.1, 0.25, 0.4, 0.5, 0.9, 1.0])
untied = st.floats(0, 1, allow_nan=False)
cases = st.lists(st.tuples(st.booleans(), tied | untied), min_size=2, max_size=60)


def _counts(pairs):
    labels = [int(y) for y, _ in pairs]
    scores = [s for _, s in pairs]
    sc = ScoreCounts.of(scores, labels)
    return labels, scores, (sc.scores, sc.pos, sc.neg)


def ref_roc_fpr(labels, scores):
    """DeepfakeBench's code path: sklearn roc_curve, FPR at nanargmin |FNR - FPR|."""
    fpr, tpr, _ = roc_curve(labels, scores, pos_label=1)
    return float(fpr[np.nanargmin(np.absolute((1 - tpr) - fpr))])


def ref_interp_brentq(labels, scores):
    """HAMMER's code path: the root of 1 - x - interp1d(FPR, TPR)(x) on [0, 1]."""
    fpr, tpr, _ = roc_curve(labels, scores, pos_label=1)
    return brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)


def ref_interp_exact(labels, scores):
    """The crossing of the ROC polyline (every distinct threshold) with FPR + TPR = 1, in Fractions."""
    p, n = sum(labels), len(labels) - sum(labels)
    points = [(Fraction(0), Fraction(0))]
    for t in sorted(set(scores), reverse=True):
        points.append((Fraction(sum(1 for y, s in zip(labels, scores) if s >= t and y == 0), n),
                       Fraction(sum(1 for y, s in zip(labels, scores) if s >= t and y == 1), p)))
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x1 + y1 >= 1:
            lam = (1 - x0 - y0) / ((x1 + y1) - (x0 + y0))
            return float(x0 + lam * (x1 - x0))


def ref_exact(labels, scores):
    """ASVspoof's DET walk (targets first among ties) with rational rates: first minimum of |FRR - FAR|."""
    t, n = sum(labels), len(labels) - sum(labels)
    misses, false_alarms = 0, n
    best = (abs(Fraction(0) - 1), Fraction(0), Fraction(1))
    for _, y in sorted(zip(scores, labels), key=lambda sy: (sy[0], -sy[1])):
        misses, false_alarms = misses + y, false_alarms - (1 - y)
        frr, far = Fraction(misses, t), Fraction(false_alarms, n)
        if abs(frr - far) < best[0]:
            best = (abs(frr - far), frr, far)
    return float((best[1] + best[2]) / 2)


@settings(max_examples=300, deadline=None)
@given(pairs=cases)
def test_variants_equal_references(pairs):
    labels, scores, counts = _counts(pairs)
    if not 0 < sum(labels) < len(labels):
        assert all(metrics.EER_VARIANTS[v](*counts) is None for v in metrics.EER_VARIANTS)
        return
    assert metrics.eer_roc_fpr(*counts) == ref_roc_fpr(labels, scores)
    assert metrics.eer_interp(*counts) == ref_interp_exact(labels, scores)
    assert metrics.eer_interp(*counts) == pytest.approx(ref_interp_brentq(labels, scores), abs=1e-9)
    assert metrics.eer_exact(*counts) == ref_exact(labels, scores)
    assert metrics.eer_asvspoof(*counts) == oracle.ref_eer_asvspoof(labels, scores)


def test_five_trials_from_the_reference_note():
    """REFERENCE_METRICS §4.1: scores [0.9, 0.4, 0.4, 0.2, 0.4], labels [1, 1, 0, 0, 1]."""
    _, _, counts = _counts(list(zip([1, 1, 0, 0, 1], [0.9, 0.4, 0.4, 0.2, 0.4])))
    assert metrics.eer_asvspoof(*counts) == (2 / 3 + 1 / 2) / 2  # 0.5833
    assert metrics.eer_exact(*counts) == float(Fraction(5, 12))  # 0.4167
    assert metrics.eer_roc_fpr(*counts) == 0.5
    assert metrics.eer_interp(*counts) == float(Fraction(2, 7))  # 0.2857


@pytest.mark.parametrize("quantum", [None, 0.1])
def test_large_random_scores(quantum):
    """500 + 500 scores, continuous and quantised (many ties), as in the reference note's table."""
    rng = np.random.default_rng(7)
    labels = (rng.random(1000) < 0.5).astype(int)
    scores = np.clip(rng.normal(0.4 + 0.25 * labels, 0.2), 0, 1)
    if quantum:
        scores = np.round(scores / quantum) * quantum
    sc = ScoreCounts.of(scores, labels)
    counts = (sc.scores, sc.pos, sc.neg)
    assert metrics.eer_roc_fpr(*counts) == ref_roc_fpr(labels, scores)
    assert metrics.eer_interp(*counts) == pytest.approx(ref_interp_brentq(labels, scores), abs=1e-9)
    assert metrics.eer_exact(*counts) == ref_exact(labels.tolist(), scores.tolist())


def test_large_counts_take_exact_integers():
    big = 3_000_000_000
    counts = (np.array([0.2, 0.8]), np.array([1, big]), np.array([big, 1]))
    assert metrics.eer_exact(*counts) == float((Fraction(1, big + 1) + Fraction(1, big + 1)) / 2)
    assert metrics.eer_interp(*counts) == float(Fraction(1, big + 1))


@pytest.mark.parametrize("variant", sorted(metrics.EER_VARIANTS))
def test_variant_is_recorded_and_used(tmp_path, capsys, variant):
    labels, scores = [1, 1, 0, 0, 1], [0.9, 0.4, 0.4, 0.2, 0.4]
    write_manifest(tmp_path / "gt.csv", [{"id": str(i), "label": y} for i, y in enumerate(labels)])
    write_manifest(tmp_path / "pred.csv", [{"id": str(i), "score": s} for i, s in enumerate(scores)])
    rc = main(["eval", "openmmsec-audio", "--gt", str(tmp_path / "gt.csv"), "--pred", str(tmp_path / "pred.csv"),
               "--eer", variant, "--json", "--quiet"])
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and result["conventions"]["eer"] == variant
    sc = ScoreCounts.of(scores, labels)
    assert result["metrics"]["eer"] == metrics.EER_VARIANTS[variant](sc.scores, sc.pos, sc.neg)
