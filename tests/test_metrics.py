"""Rank metrics from merged per-score counts against brute-force references and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from raydeval import metrics
from raydeval.state import ScoreCounts
from tests import oracle

cases = st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5000001, 0.9, 1.0])),
                 min_size=1, max_size=50)


def _counts(pairs):
    labels = [int(y) for y, _ in pairs]
    scores = [s for _, s in pairs]
    sc = ScoreCounts.of(scores, labels)
    return labels, scores, (sc.scores, sc.pos, sc.neg)


@settings(max_examples=300, deadline=None)
@given(pairs=cases)
def test_rank_metrics_equal_references(pairs):
    labels, scores, counts = _counts(pairs)
    assert metrics.auc(*counts) == oracle.ref_auc(labels, scores)
    assert metrics.average_precision(*counts) == oracle.ref_ap(labels, scores)
    assert metrics.eer_asvspoof(*counts) == oracle.ref_eer_asvspoof(labels, scores)
    if 0 < sum(labels) < len(labels):
        assert metrics.auc(*counts) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    if sum(labels):
        assert metrics.average_precision(*counts) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(pairs=cases, chunk=st.integers(1, 9))
def test_eer_in_chunks_equals_whole(pairs, chunk):
    labels, scores, counts = _counts(pairs)
    whole = metrics.eer_asvspoof(*counts)
    saved = metrics.EER_CHUNK
    try:
        metrics.EER_CHUNK = chunk
        assert metrics.eer_asvspoof(*counts) == whole
    finally:
        metrics.EER_CHUNK = saved


def test_auc_of_large_counts_is_exact():
    """P·N beyond 2**62 takes exact Python integers."""
    from fractions import Fraction
    big = 3_000_000_000
    counts = (np.array([0.2, 0.8]), np.array([1, big]), np.array([big, 1]))
    correct, tied = big * big, 2 * big  # positives at 0.8 over negatives at 0.2; one tie per score
    assert metrics.auc(*counts) == float(Fraction(2 * correct + tied, 2 * (big + 1) ** 2))
