"""`detection`: acc, f1, auc, ap, eer against scikit-learn, per frame and per video (mean or max
of frame scores), shard invariance and bad input."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score, roc_curve

from raydeval.cli import main
from raydeval.demo import write_manifest
from tests import invariance


def _bench(tmp_path, frames_per_video=4, videos=12, seed=0, fmt="csv"):
    """Frames of videos with one label each; scores with ties (two decimals), rows shuffled."""
    rng = np.random.default_rng(seed)
    gt, pred = [], []
    for v in range(videos):
        label = int(v % 3 != 0)
        for f in range(frames_per_video):
            sid = f"v{v:02d}/f{f}"
            gt.append({"id": sid, "label": label, "video": f"v{v:02d}", "dataset": "toy"})
            pred.append({"id": sid, "score": float(np.clip(np.round(rng.normal(0.35 + 0.3 * label, 0.25), 2), 0, 1))})
    order = rng.permutation(len(gt))
    gt = [gt[i] for i in order]
    write_manifest(tmp_path / f"gt.{fmt}", gt)
    write_manifest(tmp_path / "pred.jsonl", pred)
    return str(tmp_path / f"gt.{fmt}"), str(tmp_path / "pred.jsonl"), gt, {p["id"]: p["score"] for p in pred}


def _eval(capsys, gt, pred, *args):
    rc = main(["eval", "detection", "--gt", gt, "--pred", pred, "--json", "--quiet", *args])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def _sklearn(y, s):
    fpr, tpr, _ = roc_curve(y, s, pos_label=1)
    return {"acc": accuracy_score(y, s > 0.5), "f1": f1_score(y, s > 0.5, zero_division=0),
            "auc": roc_auc_score(y, s), "ap": average_precision_score(y, s),
            "eer": float(fpr[np.nanargmin(np.abs((1 - tpr) - fpr))])}


def _close(got, expected):
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, abs=1e-12), k


def test_frames_against_sklearn(tmp_path, capsys):
    gt, pred, rows, score = _bench(tmp_path)
    result = _eval(capsys, gt, pred, "--eer", "roc_fpr")
    y = np.array([r["label"] for r in rows])
    s = np.array([score[r["id"]] for r in rows])
    _close(result["metrics"], _sklearn(y, s))
    assert result["metrics"]["eer"] == _sklearn(y, s)["eer"]  # DeepfakeBench's EER, bit for bit
    assert result["metrics"]["acc"] == float(Fraction(int(((s > 0.5) == y).sum()), len(y)))


@pytest.mark.parametrize("aggregate", ["mean", "max"])
def test_videos_against_sklearn(tmp_path, capsys, aggregate):
    gt, pred, rows, score = _bench(tmp_path, fmt="parquet")
    result = _eval(capsys, gt, pred, "--video-id", "video", "--aggregate", aggregate, "--eer", "roc_fpr")
    videos = {}
    for r in rows:
        videos.setdefault(r["video"], (r["label"], []))[1].append(score[r["id"]])
    y = np.array([label for label, _ in videos.values()])
    if aggregate == "mean":
        s = np.array([float(sum(Fraction(x) for x in xs) / len(xs)) for _, xs in videos.values()])
    else:
        s = np.array([max(xs) for _, xs in videos.values()])
    _close(result["metrics"], _sklearn(y, s))
    assert result["counts"]["samples"] == 12 and result["counts"]["frames"] == 48
    assert result["conventions"]["video_id"] == "video" and result["conventions"]["aggregate"] == aggregate


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return _bench(tmp_path_factory.mktemp("detection"), frames_per_video=3, videos=10, seed=4)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), video=st.booleans())
def test_any_partition_any_order(bench, data, video):
    conventions = {"video_id": "video", "eer": "interp"} if video else {"eer": "exact"}
    invariance.check_any_partition(*invariance.prepared("detection", bench[0], bench[1], conventions), data)


def test_workers_and_shard_sizes(ray_local, bench):
    invariance.check_workers_and_shard_sizes("detection", bench[0], bench[1], 10, {"video_id": "video"})
    invariance.check_workers_and_shard_sizes("detection", bench[0], bench[1], 30)


def test_mixed_labels_in_a_video_exit_2(tmp_path, capsys):
    gt, pred, rows, _ = _bench(tmp_path, fmt="jsonl")
    for r in rows:
        if r["id"] == "v04/f2":
            r["label"] = 0
    write_manifest(gt, rows)
    rc = main(["eval", "detection", "--gt", gt, "--pred", pred, "--video-id", "video", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "v04" in err and "column `label`" in err and "v05" not in err and "Traceback" not in err
