"""`asvspoof`: ASVspoof 5 track 1 metrics against slow implementations of the published formulas
(the evaluation package's DET, minDCF, actDCF, Cllr) on tied and untied scores, shard invariance,
and bad input."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from raydeval import metrics
from raydeval.cli import main
from raydeval.demo import write_manifest
from raydeval.state import ScoreCounts
from tests import invariance, oracle

P_SPOOF, C_MISS, C_FA = 0.05, 1, 10


def ref_det(bona, spoof):
    """DET points one trial at a time, ascending score, bona fide before spoof among ties."""
    trials = sorted([(s, 0) for s in bona] + [(s, 1) for s in spoof])
    frr, far, misses, accepted = [0.0], [1.0], 0, len(spoof)
    for _, is_spoof in trials:
        misses += 1 - is_spoof
        accepted -= is_spoof
        frr.append(misses / len(bona))
        far.append(accepted / len(spoof))
    return frr, far


def ref_min_dcf(bona, spoof):
    frr, far = ref_det(bona, spoof)
    p_target = 1 - P_SPOOF
    best = float("inf")
    for miss, fa in zip(frr, far):
        best = min(best, C_MISS * miss * p_target + C_FA * fa * (1 - p_target))
    return best / min(C_MISS * p_target, C_FA * (1 - p_target))


def ref_act_dcf(bona, spoof):
    threshold = -np.log(C_MISS * (1 - P_SPOOF) / (C_FA * P_SPOOF))
    rate_miss = sum(1 for s in bona if s < threshold) / len(bona)
    rate_fa = sum(1 for s in spoof if s >= threshold) / len(spoof)
    cost = C_MISS * (1 - P_SPOOF) * rate_miss + C_FA * P_SPOOF * rate_fa
    return cost / min(C_FA * P_SPOOF, C_MISS * (1 - P_SPOOF))


def ref_cllr(bona, spoof, exact=True):
    """0.5·(mean log1p(exp(-s_bona)) + mean log1p(exp(s_spoof))) / ln 2; means exact (or NumPy's)."""
    def mean(terms):
        return float(sum(Fraction(float(t)) for t in terms) / len(terms)) if exact else np.mean(terms)
    return 0.5 * (mean(np.log1p(np.exp(-np.array(bona)))) + mean(np.log1p(np.exp(np.array(spoof))))) / np.log(2)


tied = st.sampled_from([-3.0, -0.6418538861723947, -0.5, 0.0, 0.5, 2.0])
untied = st.floats(-8, 8, allow_nan=False)
cases = st.lists(st.tuples(st.booleans(), tied | untied), min_size=2, max_size=50)


@settings(max_examples=300, deadline=None)
@given(pairs=cases)
def test_metrics_equal_the_published_formulas(pairs):
    bona = [s for spoof, s in pairs if not spoof]
    spoof = [s for is_spoof, s in pairs if is_spoof]
    sc = ScoreCounts.of([s for _, s in pairs], [not is_spoof for is_spoof, _ in pairs])
    counts = (sc.scores, sc.pos, sc.neg)
    if not bona or not spoof:
        assert metrics.min_dcf(*counts, P_SPOOF, C_MISS, C_FA) is None and metrics.cllr(*counts) is None
        return
    assert metrics.min_dcf(*counts, P_SPOOF, C_MISS, C_FA) == ref_min_dcf(bona, spoof)
    assert metrics.act_dcf(*counts, P_SPOOF, C_MISS, C_FA) == ref_act_dcf(bona, spoof)
    assert metrics.cllr(*counts) == ref_cllr(bona, spoof)
    assert metrics.cllr(*counts) == pytest.approx(ref_cllr(bona, spoof, exact=False), rel=1e-12)
    labels = [1] * len(bona) + [0] * len(spoof)  # the ASVspoof EER: bona fide = target
    assert metrics.eer_asvspoof(*counts) == oracle.ref_eer_asvspoof(labels, bona + spoof)


def test_cllr_beyond_exp_overflow_uses_the_limit():
    sc = ScoreCounts.of([-800.0, 1.0, 800.0, -1.0], [True, True, False, False])
    expected = 0.5 * (float((Fraction(800) + Fraction(float(np.log1p(np.exp(-1.0))))) / 2)
                      + float((Fraction(800) + Fraction(float(np.log1p(np.exp(-1.0))))) / 2)) / np.log(2)
    assert metrics.cllr(sc.scores, sc.pos, sc.neg) == expected


def _bench(tmp_path, n=40, seed=3, tied_scores=True):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.7).astype(int)  # 1 = spoof
    scores = rng.normal(2.0 - 4.0 * labels, 1.5)
    if tied_scores:
        scores = np.round(scores)
    write_manifest(tmp_path / "key.csv", [{"id": f"T{i:04d}", "label": int(y), "attack": f"A{i % 3}"}
                                          for i, y in enumerate(labels)])
    write_manifest(tmp_path / "scores.parquet", [{"id": f"T{i:04d}", "score": float(s)} for i, s in enumerate(scores)])
    return str(tmp_path / "key.csv"), str(tmp_path / "scores.parquet"), labels, scores


def test_cli_result_and_conventions(tmp_path, capsys):
    gt, pred, labels, scores = _bench(tmp_path)
    assert main(["eval", "asvspoof", "--gt", gt, "--pred", pred, "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    bona, spoof = scores[labels == 0].tolist(), scores[labels == 1].tolist()
    assert result["metrics"] == {"min_dcf": ref_min_dcf(bona, spoof), "act_dcf": ref_act_dcf(bona, spoof),
                                 "cllr": ref_cllr(bona, spoof),
                                 "eer": oracle.ref_eer_asvspoof([1] * len(bona) + [0] * len(spoof), bona + spoof)}
    assert result["conventions"] | {"p_spoof": 0.05, "c_miss": 1, "c_fa": 10, "positive": "bonafide",
                                    "eer": "asvspoof"} == result["conventions"]
    assert result["counts"]["bonafide"] == len(bona) and result["counts"]["spoof"] == len(spoof)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return _bench(tmp_path_factory.mktemp("asvspoof"), n=30, seed=5)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_partition_any_order(bench, data):
    invariance.check_any_partition(*invariance.prepared("asvspoof", bench[0], bench[1], {"eer": "exact"}), data)


def test_workers_and_shard_sizes(ray_local, bench):
    invariance.check_workers_and_shard_sizes("asvspoof", bench[0], bench[1], 30)


@pytest.mark.parametrize("case,needle", [
    ("nan", "T0003"), ("missing", "T0005"), ("missing_negative", "missing must be one of error")])
def test_bad_input_exits_2(tmp_path, capsys, case, needle):
    gt, pred, labels, scores = _bench(tmp_path, n=8)
    rows = [{"id": f"T{i:04d}", "score": float(s)} for i, s in enumerate(scores)]
    args = []
    if case == "nan":
        rows[3]["score"] = float("nan")
    elif case == "missing":
        del rows[5]
    else:
        args = ["--missing", "negative"]
    write_manifest(tmp_path / "scores.jsonl", rows)
    rc = main(["eval", "asvspoof", "--gt", gt, "--pred", str(tmp_path / "scores.jsonl"), "--quiet", *args])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and "Traceback" not in err
    if case == "nan":
        assert "column `score`" in err and "scores.jsonl" in err
