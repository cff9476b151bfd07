"""Small cases worked out by hand, through the real CLI, files and Ray."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from raydeval import intervals, metrics
from raydeval.cli import main
from raydeval.demo import write_manifest, write_mask, write_mask_video
from raydeval.state import ScoreCounts


def _eval(capsys, task, gt, pred, *extra):
    rc = main(["eval", task, "--gt", str(gt), "--pred", str(pred), "--json", "--quiet", "--workers", "2", *extra])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def test_tiou_of_half_overlapping_intervals_is_one_third(ray_local, tmp_path, capsys):
    write_manifest(tmp_path / "gt.jsonl", [{"id": "v", "label": 1, "num_frames": 20, "fake_frames": [[0, 10]]}])
    write_manifest(tmp_path / "pred.jsonl", [{"id": "v", "label": 1, "fake_frames": [[5, 15]]}])
    result = _eval(capsys, "openmmsec-video", tmp_path / "gt.jsonl", tmp_path / "pred.jsonl")
    assert result["metrics"]["mtiou"] == 1 / 3
    assert result["counts"]["frame_tp"] == 5 and result["counts"]["frame_fp"] == 5
    assert result["metrics"]["mviou"] is None and result["metrics"]["score"] is None
    assert any("mviou" in note for note in result["notes"])


def test_overlapping_predicted_intervals_are_merged():
    assert intervals.merged([(5, 8), (0, 3), (2, 6)]) == [(0, 8)]
    assert intervals.overlap([(0, 10)], intervals.merged([(5, 12), (9, 15)])) == 5


def test_mviou_divides_by_the_union_of_frames(ray_local, tmp_path, capsys):
    """GT fake frames [0,4), predicted [2,6): S_i = {2,3}, S_u = {0..5}, so |S_u| = 6 > |S_i| = 2."""
    block = np.zeros((8, 8), bool)
    block[0:4, 0:4] = True  # 16 GT pixels
    half = np.zeros((8, 8), bool)
    half[0:4, 0:2] = True  # 8 predicted pixels inside them
    empty = np.zeros((8, 8), bool)
    write_mask_video(str(tmp_path / "gt.mkv"), [block] * 4 + [empty] * 2)
    write_mask_video(str(tmp_path / "pred.mkv"), [empty, empty, block, half, block, block])
    write_manifest(tmp_path / "gt.jsonl", [{"id": "v", "label": 1, "num_frames": 6, "fake_frames": [[0, 4]],
                                            "mask": "gt.mkv"}])
    write_manifest(tmp_path / "pred.jsonl", [{"id": "v", "label": 1, "fake_frames": [[2, 6]], "mask": "pred.mkv"}])
    result = _eval(capsys, "openmmsec-video", tmp_path / "gt.jsonl", tmp_path / "pred.jsonl")
    # IoU_2 = 16/16 = 1, IoU_3 = 8/16 = 1/2; vIoU = (1 + 1/2) / 6 = 1/4; tIoU = 2/6
    assert result["metrics"]["mviou"] == 0.25
    assert result["metrics"]["mtiou"] == 1 / 3
    assert result["metrics"]["viou@0.3"] == 0.0
    assert result["metrics"]["score"] == float(Fraction(3, 5) + Fraction(1, 5) * Fraction(1 / 3) + Fraction(1, 20))


def _image_case(tmp_path):
    full, empty = np.ones((4, 4), bool), np.zeros((4, 4), bool)
    write_mask(str(tmp_path / "fake.png"), full)
    write_mask(str(tmp_path / "fake_pred.png"), full)
    write_mask(str(tmp_path / "real_pred.png"), full)  # a false alarm on a real image
    write_mask(str(tmp_path / "blank.png"), empty)
    write_manifest(tmp_path / "gt.csv", [
        {"id": "fake", "label": 1, "mask": "fake.png"},
        {"id": "real", "label": 0, "mask": None},
        {"id": "blank", "label": 1, "mask": "blank.png"},  # both masks empty: F1 = 1 by convention
        {"id": "generated", "label": 1, "mask": None},  # no localisation: never in pixel F1
    ])
    write_manifest(tmp_path / "pred.csv", [
        {"id": "fake", "label": 1, "mask": "fake_pred.png"},
        {"id": "real", "label": 0, "mask": "real_pred.png"},
        {"id": "blank", "label": 1, "mask": "blank.png"},
        {"id": "generated", "label": 0, "mask": "fake_pred.png"},
    ])
    return tmp_path / "gt.csv", tmp_path / "pred.csv"


@pytest.mark.parametrize("policy,pixel_f1", [("exclude", 1.0), ("zero", 2 / 3), ("one_if_pred_empty", 2 / 3)])
def test_authentic_images_and_both_empty_masks(ray_local, tmp_path, capsys, policy, pixel_f1):
    gt, pred = _image_case(tmp_path)
    result = _eval(capsys, "openmmsec-image", gt, pred, "--authentic-policy", policy)
    assert result["metrics"]["pixel_f1"] == pixel_f1
    assert result["counts"]["pixel_images"] == 2
    # image level: TP=2 (fake, blank), FN=1 (generated), TN=1 (real): F1_fake = 4/5, F1_real = 2/3
    assert result["metrics"]["macro_f1"] == float((Fraction(4, 5) + Fraction(2, 3)) / 2)
    assert result["conventions"]["authentic_policy"] == policy


def test_asvspoof_eer_five_trials():
    """Float64 rates pick the point (FRR 2/3, FAR 1/2) — 0.5833, where exact rationals tie with 5/12."""
    sc = ScoreCounts.of([0.1, 0.2, 0.3, 0.4, 0.5], [1, 0, 1, 1, 0])
    assert metrics.eer_asvspoof(sc.scores, sc.pos, sc.neg) == (2 / 3 + 1 / 2) / 2


def test_auc_counts_ties_as_half():
    sc = ScoreCounts.of([0.5, 0.5, 0.9, 0.1], [1, 0, 1, 0])
    assert metrics.auc(sc.scores, sc.pos, sc.neg) == (3 + 0.5) / 4


def test_undefined_rank_metrics_are_null(ray_local, tmp_path, capsys):
    write_manifest(tmp_path / "gt.csv", [{"id": "a", "label": 1}, {"id": "b", "label": 1}])
    write_manifest(tmp_path / "pred.csv", [{"id": "a", "score": 0.9}, {"id": "b", "score": 0.2}])
    result = _eval(capsys, "openmmsec-audio", tmp_path / "gt.csv", tmp_path / "pred.csv")
    m = result["metrics"]
    assert m["auc"] is None and m["eer"] is None and m["ap"] == 1.0
    assert m["f1"] == float(Fraction(2, 3)) and m["precision"] == 1.0 and m["recall"] == 0.5
    assert any("auc" in note for note in result["notes"])
