"""Every metric of every task equals the independent Fraction oracle bit for bit (and sklearn)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from raydeval.evaluate import RunSettings, evaluate
from tests import gen, oracle

ORACLES = {"openmmsec-image": oracle.oracle_image, "openmmsec-video": oracle.oracle_video,
           "openmmsec-audio": oracle.oracle_audio}
FORMATS = ("parquet", "csv", "jsonl")
# (seed, GT format, prediction format, pred has label, pred has score)
MODES = [(True, True), (False, True), (True, False)]
CASES = [(seed, g, p, *MODES[seed % 3]) for seed, (g, p) in enumerate(itertools.product(FORMATS, FORMATS))]


def _check(task, tmp_path, seed, gt_format, pred_format, keep_label, keep_score, **conventions):
    gt_path, pred_path, gt_rows, pred_rows = gen.BENCHMARKS[task](
        str(tmp_path), seed, gt_format=gt_format, pred_format=pred_format,
        keep_label=keep_label, keep_score=keep_score)
    result = evaluate(task, gt_path, pred_path, conventions, RunSettings(workers=2, progress=False))
    expected = ORACLES[task](gt_rows, pred_rows, **conventions)
    expected_counts = expected.pop("counts")
    got = result["metrics"]
    assert {k: v for k, v in got.items() if k != "score" or "score" in expected} == expected
    for key in ("samples", "tp", "fp", "fn", "tn"):
        assert result["counts"][key] == expected_counts[key]
    return result, gt_rows, pred_rows


@pytest.mark.parametrize("seed,gt_format,pred_format,keep_label,keep_score", CASES)
@pytest.mark.parametrize("task", list(ORACLES))
def test_matches_oracle(ray_local, tmp_path, task, seed, gt_format, pred_format, keep_label, keep_score):
    result, gt_rows, pred_rows = _check(task, tmp_path, seed, gt_format, pred_format, keep_label, keep_score)
    by_id = {r["id"]: r for r in pred_rows}
    y = np.array([r["label"] for r in gt_rows])
    if keep_score:
        s = np.array([by_id[r["id"]]["score"] for r in gt_rows])
        if 0 < y.sum() < len(y):
            assert result["metrics"]["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        if y.sum():
            assert result["metrics"]["ap"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    yhat = np.array([by_id[r["id"]]["label"] if keep_label else int(by_id[r["id"]]["score"] > 0.5)
                     for r in gt_rows])
    if task == "openmmsec-image":
        sk = f1_score(y, yhat, average="macro", labels=[0, 1], zero_division=0)
        assert result["metrics"]["macro_f1"] == pytest.approx(sk, abs=1e-15)
    else:
        sk = f1_score(y, yhat, zero_division=0)
        key = "micro_f1" if task == "openmmsec-video" else "f1"
        assert result["metrics"][key] == pytest.approx(sk, abs=1e-15)


@pytest.mark.parametrize("policy", ["zero", "one_if_pred_empty"])
def test_image_authentic_policies(ray_local, tmp_path, policy):
    _check("openmmsec-image", tmp_path, 101, "parquet", "jsonl", True, True, authentic_policy=policy)


def test_video_real_policy(ray_local, tmp_path):
    _check("openmmsec-video", tmp_path, 102, "csv", "csv", True, True, real_video_policy="one_if_pred_empty")


@pytest.mark.parametrize("task", list(ORACLES))
def test_missing_negative(ray_local, tmp_path, task):
    gt_path, pred_path, gt_rows, pred_rows = gen.BENCHMARKS[task](str(tmp_path), 103, pred_format="jsonl")
    kept = pred_rows[: len(pred_rows) // 2]
    from raydeval.demo import write_manifest
    import os
    base = os.path.dirname(pred_path)
    write_manifest(pred_path, [{k: (os.path.relpath(v, base) if k == "mask" and v else v) for k, v in r.items()}
                               for r in kept])
    result = evaluate(task, gt_path, pred_path, {"missing": "negative"}, RunSettings(workers=2, progress=False))
    expected = ORACLES[task](gt_rows, kept, missing="negative")
    expected.pop("counts")
    assert result["metrics"] == expected


def test_video_weights_are_exact_decimals(ray_local, tmp_path):
    from fractions import Fraction
    result, *_ = _check("openmmsec-video", tmp_path, 104, "jsonl", "jsonl", True, True,
                        weights=(Fraction("0.5"), Fraction("0.3"), Fraction("0.2")))
    m = result["metrics"]
    recomputed = float(sum(Fraction(repr(w)) * Fraction(m[k]) for k, w in result["conventions"]["weights"].items()))
    assert m["score"] == recomputed
