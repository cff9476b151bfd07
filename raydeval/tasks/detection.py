"""`detection`: generic binary real/fake detection from scores (DeepfakeBench and most papers;
SPEC §6): acc, f1, auc, ap, eer, per sample or per video from frame scores."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raydeval import metrics
from raydeval.errors import InputError, Problems
from raydeval.exact import exact_sum_units, mean_from_units
from raydeval.io import columns
from raydeval.io.manifest import Manifest
from raydeval.state import State
from raydeval.tasks.base import COMMON_CONVENTIONS, Context, Convention, Task, joined_labels, label_state, rank_metrics


class DetectionTask(Task):
    name = "detection"
    summary = "binary real/fake detection from scores (acc, F1, AUC, AP, EER), optionally per video"
    headline = ()
    extras = ("acc", "f1", "auc", "ap", "eer")
    default_weights = ()
    conventions = {
        **COMMON_CONVENTIONS,
        "video_id": Convention(None, help="GT column naming each frame's video: frames are scored as "
                                          "videos (--video-id); none: every row is a sample"),
        "aggregate": Convention("mean", ("mean", "max"),
                                "a video's score from its frame scores (DeepfakeBench: mean)"),
    }

    def prepare(self, gt: Manifest, pred: Manifest, options: dict) -> pa.Table:
        problems = Problems()
        out, _ = joined_labels(gt, pred, options, problems)
        out.pop("pred_row")
        if options["video_id"] is not None:
            out = _per_video(gt, pred, out, options, problems)
        problems.raise_if_any()
        return pa.table(out)

    def shard_columns(self, names: list[str], ctx: Context) -> list[str]:
        return [c for c in ("gt_label", "pred_label", "pred_score", "frames") if c in names]

    def media_columns(self, ctx: Context) -> tuple[str, ...]:
        return ()

    def evaluate(self, shard: dict, ctx: Context) -> tuple[State, Problems]:
        state = label_state(shard)
        if "frames" in shard:
            state.add(frames=int(shard["frames"].sum()))
        return state, Problems()

    def finalize(self, state: State, options: dict) -> tuple[dict, list[str]]:
        notes: list[str] = []
        c = state.counts
        values = {"acc": float(metrics.ratio(c["tp"] + c["tn"], c["samples"])),
                  "f1": float(metrics.f1(c["tp"], c["fp"], c["fn"]))}
        values.update(rank_metrics(state, options, notes))
        return values, notes


def _per_video(gt: Manifest, pred: Manifest, frames: dict, options: dict, problems: Problems) -> dict:
    """One row per video (in order of first appearance): its GT label, which all its frames must
    share, and its score, the mean (correctly rounded) or max of its frame scores. Done here on
    the driver, before the cut into shards, so that a video never straddles two shards."""
    column = options["video_id"]
    columns.require(gt, column)
    if columns.has(pred, "label"):
        raise InputError(f"{pred.uri}: --video-id scores each video from its frame scores; the "
                         "prediction's `label` column cannot be aggregated (drop it: labels become score > 0.5)")
    if "pred_score" not in frames:
        raise InputError(f"{pred.uri}: --video-id needs a `score` column")
    videos = gt.table.column(column).combine_chunks()
    if videos.null_count:
        problems.add(gt.uri, column, "frame without a video id",
                     frames["id"].filter(pc.is_null(videos)).to_pylist())
        videos = pc.fill_null(videos.cast(pa.string()), "")
    encoded = videos.cast(pa.string()).dictionary_encode()
    order = np.argsort(encoded.indices.to_numpy(zero_copy_only=False), kind="stable")
    sizes = np.bincount(encoded.indices.to_numpy(zero_copy_only=False))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    labels, scores = frames["gt_label"][order], frames["pred_score"][order]
    mixed = np.minimum.reduceat(labels, starts) != np.maximum.reduceat(labels, starts)
    problems.add(gt.uri, "label", f"frames of one video (`{column}`) with different labels",
                 encoded.dictionary.filter(pa.array(mixed)).to_pylist())
    if options["aggregate"] == "max":
        video_scores = np.maximum.reduceat(scores, starts)
    else:
        video_scores = np.array([mean_from_units(exact_sum_units(scores[a:a + n]), n)
                                 for a, n in zip(starts.tolist(), sizes.tolist())])
    video_labels = np.maximum.reduceat(labels, starts)
    return {"id": encoded.dictionary, "gt_label": video_labels, "pred_label": (video_scores > 0.5).astype(np.int8),
            "pred_score": video_scores, "frames": sizes.astype(np.int64)}
