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
from raydeval.tasks import asvspoof
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


# --- ASVspoof 2021 min t-DCF with ASV scores (REFERENCE_METRICS §4.2) -----------------------------

COST_2021 = {"Pspoof": 0.05, "Ptar": (1 - 0.05) * 0.99, "Pnon": (1 - 0.05) * 0.01, "Cmiss": 1, "Cfa": 10,
             "Cfa_spoof": 10}


def ref_asv_rates(tar, non, spoof):
    """`obtain_asv_error_rates` at the threshold of `compute_eer` (the 2021 package's wrapper)."""
    _, threshold = oracle.compute_eer(tar, non)
    return (threshold, sum(non >= threshold) / non.size, sum(tar < threshold) / tar.size,
            np.sum(spoof < threshold) / spoof.size, np.sum(spoof >= threshold) / spoof.size)


def ref_min_tdcf(bona, spoof, p_fa_asv, p_miss_asv, p_fa_spoof_asv, cost=COST_2021):
    """min of `compute_tDCF`'s normalised curve (None where the package stops: < 3 distinct scores)."""
    if np.unique(np.concatenate((bona, spoof))).size < 3:
        return None
    p_miss_cm, p_fa_cm, _ = oracle.compute_det_curve(bona, spoof)
    c0 = cost["Ptar"] * cost["Cmiss"] * p_miss_asv + cost["Pnon"] * cost["Cfa"] * p_fa_asv
    c1 = cost["Ptar"] * cost["Cmiss"] - (cost["Ptar"] * cost["Cmiss"] * p_miss_asv + cost["Pnon"] * cost["Cfa"] * p_fa_asv)
    c2 = cost["Pspoof"] * cost["Cfa_spoof"] * p_fa_spoof_asv
    tdcf_norm = (c0 + c1 * p_miss_cm + c2 * p_fa_cm) / (c0 + np.minimum(c1, c2))
    return float(tdcf_norm[tdcf_norm.argmin()])


asv_lists = st.lists(tied | untied, min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(pairs=cases, tar=asv_lists, non=asv_lists, spoof=asv_lists)
def test_min_tdcf_equals_the_package(pairs, tar, non, spoof):
    tar, non, spoof = (np.array(v, dtype=np.float64) for v in (tar, non, spoof))
    threshold, p_fa, p_miss, p_miss_spoof, p_fa_spoof = ref_asv_rates(tar, non, spoof)
    rates = metrics.asv_error_rates(tar, non, spoof)
    assert rates == {"threshold": threshold, "p_miss": p_miss, "p_fa": p_fa, "p_miss_spoof": p_miss_spoof,
                     "p_fa_spoof": p_fa_spoof}
    c0, c1, c2 = metrics.tdcf_weights(p_miss, p_fa, p_fa_spoof, asvspoof.COST_MODEL_2021)
    if c1 < 0:  # an ASV system worse than chance: the package stops, prepare reports it
        return
    bona = np.array([s for is_spoof, s in pairs if not is_spoof])
    cm_spoof = np.array([s for is_spoof, s in pairs if is_spoof])
    sc = ScoreCounts.of([s for _, s in pairs], [not is_spoof for is_spoof, _ in pairs])
    got = metrics.min_tdcf(sc.scores, sc.pos, sc.neg, c0, c1, c2)
    if not bona.size or not cm_spoof.size:
        assert got is None
        return
    assert got == ref_min_tdcf(bona, cm_spoof, p_fa, p_miss, p_fa_spoof)


def _asv(tmp_path, seed=4, n=60, name="asv.jsonl", tied_scores=True, ids=True):
    """An ASV score manifest: targets high, non-targets low, spoofs in between."""
    rng = np.random.default_rng(seed)
    key = rng.choice(["target", "nontarget", "spoof"], n, p=[0.5, 0.2, 0.3])
    score = rng.normal(np.select([key == "target", key == "nontarget"], [3.0, -3.0], 0.5), 2.0)
    score = np.round(score) if tied_scores else score
    rows = [{"key": str(k), "score": float(s)} | ({"id": f"A{i:03d}"} if ids else {}) for i, (k, s) in
            enumerate(zip(key, score))]
    write_manifest(tmp_path / name, rows)
    return str(tmp_path / name), key, score


@pytest.mark.parametrize("tied_scores", [True, False])
def test_cli_min_tdcf_and_its_conventions(tmp_path, capsys, tied_scores):
    gt, pred, labels, scores = _bench(tmp_path, tied_scores=tied_scores)
    asv, key, asv_score = _asv(tmp_path, tied_scores=tied_scores)
    assert main(["eval", "asvspoof", "--gt", gt, "--pred", pred, "--asv-scores", asv, "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    threshold, p_fa, p_miss, p_miss_spoof, p_fa_spoof = ref_asv_rates(*(asv_score[key == k] for k in asvspoof.ASV_KEYS))
    bona, spoof = scores[labels == 0], scores[labels == 1]
    assert result["metrics"]["min_tdcf"] == ref_min_tdcf(bona, spoof, p_fa, p_miss, p_fa_spoof)
    assert result["metrics"]["min_dcf"] == ref_min_dcf(bona.tolist(), spoof.tolist())
    tdcf = result["conventions"]["tdcf"]
    assert tdcf["cost_model"] == {"p_spoof": 0.05, "p_tar": 0.95 * 0.99, "p_non": 0.95 * 0.01, "c_miss": 1,
                                  "c_fa": 10, "c_fa_spoof": 10}
    assert tdcf["asv"] | {"threshold": threshold, "p_miss": p_miss, "p_fa": p_fa, "p_miss_spoof": p_miss_spoof,
                          "p_fa_spoof": p_fa_spoof, "targets": int((key == "target").sum())} == tdcf["asv"]
    assert len(tdcf["asv"]["sha256"]) == 64 and result["conventions"]["asv_scores"] == asv
    assert main(["eval", "asvspoof", "--gt", gt, "--pred", pred, "--json", "--quiet"]) == 0
    without = json.loads(capsys.readouterr().out)
    assert "min_tdcf" not in without["metrics"] and "tdcf" not in without["conventions"]
    assert without["conventions"]["asv_scores"] is None and without["notes"] == []


def test_min_tdcf_needs_soft_scores(tmp_path, capsys):
    write_manifest(tmp_path / "key.csv", [{"id": f"T{i}", "label": i % 2} for i in range(6)])
    write_manifest(tmp_path / "scores.csv", [{"id": f"T{i}", "score": float(i % 2)} for i in range(6)])
    asv, *_ = _asv(tmp_path)
    assert main(["eval", "asvspoof", "--gt", str(tmp_path / "key.csv"), "--pred", str(tmp_path / "scores.csv"),
                 "--asv-scores", asv, "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metrics"]["min_tdcf"] is None and result["metrics"]["min_dcf"] is not None
    assert result["notes"] == ["min_tdcf: undefined with fewer than 3 distinct scores (soft scores, not decisions)"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_min_tdcf_any_partition_any_order(bench, tmp_path_factory, data):
    asv, *_ = _asv(tmp_path_factory.mktemp("asv"))
    task, table, ctx = invariance.prepared("asvspoof", bench[0], bench[1], {"asv_scores": asv})
    invariance.check_any_partition(task, table, ctx, data)
    whole = invariance.state_of(task, table, ctx, [])
    ones = invariance.state_of(task, table, ctx, list(range(1, table.num_rows)))  # shards of one sample
    assert task.finalize(ones, ctx.options) == task.finalize(whole, ctx.options)
    assert task.finalize(whole, ctx.options)[0]["min_tdcf"] is not None


@pytest.mark.parametrize("case,needle", [
    ("no_key_column", "missing column(s) `key`"),
    ("bad_key", "column `key`: expected target, nontarget, spoof — 1 id(s): A002"),
    ("numeric_key", "column `key`: expected target, nontarget, spoof, got int64"),
    ("nan", "column `score`: expected a finite number (NaN, inf or empty) — 1 id(s): row 4"),
    ("no_target", "column `key`: no `target` trial"),
    ("no_nontarget", "column `key`: no `nontarget` trial"),
    ("no_spoof", "column `key`: no `spoof` trial"),
    ("worse_than_chance", "negative t-DCF weight C1"),
    ("absent", "cannot read manifest"),
    ("other_task", "unknown option(s) asv_scores")])
def test_bad_asv_scores_exit_2(tmp_path, capsys, case, needle):
    gt, pred, *_ = _bench(tmp_path, n=8)
    rows = [{"id": f"A{i:03d}", "key": k, "score": float(i)} for i, k in
            enumerate(["nontarget", "spoof", "target", "target", "nontarget", "spoof"])]
    task = "asvspoof"
    if case == "no_key_column":
        rows = [{"id": r["id"], "score": r["score"]} for r in rows]
    elif case == "bad_key":
        rows[2]["key"] = "bonafide"
    elif case == "numeric_key":
        rows = [r | {"key": i % 3} for i, r in enumerate(rows)]
    elif case == "nan":
        rows = [{"key": r["key"], "score": r["score"]} for r in rows]
        rows[3]["score"] = float("nan")
    elif case.startswith("no_"):
        rows = [r for r in rows if r["key"] != case[3:]]
    elif case == "worse_than_chance":  # targets below every non-target: the ASV EER is 1
        rows = [{"key": "target", "score": float(i)} for i in range(10)] + [
            {"key": "nontarget", "score": 100.0}, {"key": "spoof", "score": 0.0}]
    elif case == "other_task":
        task = "detection"
    asv = tmp_path / "asv.jsonl"
    if case != "absent":
        write_manifest(asv, rows)
    rc = main(["eval", task, "--gt", gt, "--pred", pred, "--asv-scores", str(asv), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and "Traceback" not in err
    if case not in ("other_task",):
        assert "asv.jsonl" in err


@pytest.mark.parametrize("seed", range(6))
def test_min_tdcf_large_random_cases(seed):
    rng = np.random.default_rng(seed)
    quantum = [0.0, 0.1, 1.0][seed % 3]  # 0: untied

    def draw(mean, n):
        x = rng.normal(mean, 1.5, n)
        return np.round(x / quantum) * quantum if quantum else x
    tar, non, spoof = draw(2.0, 3000), draw(-2.0, 500), draw(0.5, 2000)
    threshold, p_fa, p_miss, p_miss_spoof, p_fa_spoof = ref_asv_rates(tar, non, spoof)
    assert metrics.asv_error_rates(tar, non, spoof)["threshold"] == threshold
    bona, cm_spoof = draw(1.0, 4000), draw(-1.0, 6000)
    sc = ScoreCounts.of(np.concatenate([bona, cm_spoof]), np.arange(10000) < 4000)
    c012 = metrics.tdcf_weights(p_miss, p_fa, p_fa_spoof, asvspoof.COST_MODEL_2021)
    assert metrics.min_tdcf(sc.scores, sc.pos, sc.neg, *c012) == ref_min_tdcf(bona, cm_spoof, p_fa, p_miss, p_fa_spoof)
