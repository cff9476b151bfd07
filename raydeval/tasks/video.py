"""`openmmsec-video`: video-level micro-F1, temporal mtIoU, spatio-temporal mvIoU (SPEC §1.3, §2.2)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from fractions import Fraction

import numpy as np
import pyarrow as pa

from raydeval import intervals, metrics
from raydeval.errors import Problems
from raydeval.exact import exact_sum_units, mean_from_units
from raydeval.io import columns
from raydeval.io.manifest import Manifest
from raydeval.media import MediaError, open_file
from raydeval.media.backend import array_module, forged_pixels, overlap_counter
from raydeval.media.video import luma_frames
from raydeval.samples import Mean, Samples, label_samples
from raydeval.state import State
from raydeval.tasks.base import (COMMON_CONVENTIONS, Context, Convention, Task, joined_labels,
                                 mean_metric, rank_metrics, take_pred, weighted_score)

VIOU_THRESHOLDS = ("0.3", "0.5")


class VideoTask(Task):
    name = "openmmsec-video"
    summary = "video real/fake detection (micro-F1), forged frames (mtIoU) and mask videos (mvIoU)"
    headline = ("micro_f1", "mtiou", "mviou")
    extras = ("frame_f1", "viou@0.3", "viou@0.5", "auc", "ap", "eer")
    gt_columns = ("id", "label", "num_frames", "fake_frames", "mask")
    default_weights = (Fraction(3, 5), Fraction(1, 5), Fraction(1, 5))
    conventions = {
        **COMMON_CONVENTIONS,
        "real_video_policy": Convention("exclude", ("exclude", "one_if_pred_empty"),
                                        "how real videos enter mtiou"),
    }

    def join(self, gt: Manifest, pred: Manifest, options: dict, problems: Problems) -> pa.Table:
        out, pred_ids = joined_labels(gt, pred, options, problems)
        columns.require(gt, "num_frames", "fake_frames")
        num_frames = columns.positive_ints(gt, "num_frames", out["id"], problems)
        gt_frames = columns.intervals(gt, "fake_frames", out["id"], problems)
        bad_order, beyond, real_with_frames = [], [], []
        for sample_id, pairs, n, label in zip(out["id"].to_pylist(), gt_frames, num_frames.tolist(),
                                              out["gt_label"].tolist()):
            if not intervals.is_canonical(pairs):
                bad_order.append(sample_id)
            if pairs and pairs[-1][1] > n:
                beyond.append(sample_id)
            if label == 0 and pairs:
                real_with_frames.append(sample_id)
        problems.add(gt.uri, "fake_frames", "intervals not sorted and non-overlapping", bad_order)
        problems.add(gt.uri, "fake_frames", "interval beyond num_frames", beyond)
        problems.add(gt.uri, "fake_frames", "real video with fake frames", real_with_frames)

        pred_frames = (columns.intervals(pred, "fake_frames", pred_ids, problems)
                       if columns.has(pred, "fake_frames") else [[]] * pred.rows)
        pred_frames = take_pred([intervals.merged(p) for p in pred_frames], out["pred_row"], [])
        beyond = [i for i, p, n in zip(out["id"].to_pylist(), pred_frames, num_frames.tolist())
                  if p and p[-1][1] > n]
        problems.add(pred.uri, "fake_frames", "interval beyond the video's num_frames", beyond)
        out.update(num_frames=num_frames, gt_frames=gt_frames, pred_frames=pred_frames,
                   gt_mask=columns.uris(gt, "mask", out["id"], problems),
                   pred_mask=take_pred(columns.uris(pred, "mask", pred_ids, problems), out.pop("pred_row")))
        return pa.table(out)

    def samples(self, shard: dict, ctx: Context) -> tuple[Samples, Problems]:
        out, problems = label_samples(shard), Problems()
        frame = {key: np.zeros(len(out), np.int64) for key in ("frame_tp", "frame_fp", "frame_fn", "frame_tn")}
        above = {f"viou>{r}": np.zeros(len(out), np.int64) for r in VIOU_THRESHOLDS}
        tiou, viou = np.full(len(out), np.nan), np.full(len(out), np.nan)
        counter = overlap_counter(array_module(ctx.device))
        frame_counts, unions = [], {}  # unions: |P ∪ G| of each video entering mviou
        rows = zip(shard["id"], shard["gt_label"].tolist(), shard["num_frames"].tolist(),
                   shard["gt_frames"], shard["pred_frames"], shard["gt_mask"], shard["pred_mask"])
        for video, (sample_id, label, n, truth, guess, gt_uri, pred_uri) in enumerate(rows):
            truth = [tuple(p) for p in truth]
            guess = [tuple(p) for p in guess]
            inter, t_len, p_len = intervals.overlap(truth, guess), intervals.total(truth), intervals.total(guess)
            if label == 0 or truth:  # frame labels known
                for key, value in (("frame_tp", inter), ("frame_fp", p_len - inter), ("frame_fn", t_len - inter),
                                   ("frame_tn", n - t_len - p_len + inter)):
                    frame[key][video] = value
            if label == 1 and truth:
                tiou[video] = inter / (t_len + p_len - inter)
            elif label == 0 and ctx.options["real_video_policy"] == "one_if_pred_empty":
                tiou[video] = 1.0 if p_len == 0 else 0.0
            enters_mviou = bool(label == 1 and truth and gt_uri is not None)
            if not (enters_mviou or (ctx.decode_only and (gt_uri or pred_uri))):
                continue  # no metric needs this sample's mask videos (validate --decode reads them)
            try:
                union = _count_frames(counter, video, truth if enters_mviou else [],
                                      guess if enters_mviou else [], n, gt_uri, pred_uri, ctx, frame_counts)
            except _SampleError as e:
                problems.add(e.manifest(ctx), "mask", e.what, [f"{sample_id} ({e.uri}: {e.detail})"])
                continue
            if enters_mviou:
                unions[video] = union
        frame_ious = defaultdict(list)
        for video, (i, g, p) in frame_counts + counter.finish():
            frame_ious[video].append(metrics.per_sample_iou(i, p, g))
        for video, union in unions.items():
            viou[video] = mean_from_units(exact_sum_units(frame_ious[video]), union) if union else 0.0
            for r in VIOU_THRESHOLDS:
                above[f"viou>{r}"][video] = viou[video] > float(r)
        out.counts.update(frame, **above)
        out.means["tiou"] = Mean("mtiou", "mtiou_videos", tiou)
        out.means["viou"] = Mean("mviou", "mviou_videos", viou)
        return out, problems

    def finalize(self, state: State, options: dict) -> tuple[dict, list[str]]:
        notes: list[str] = []
        c = state.counts
        values = {
            "micro_f1": float(metrics.f1(c["tp"], c["fp"], c["fn"])),
            "mtiou": mean_metric(state, "mtiou", "mtiou_videos", notes,
                                 "fake video with annotated fake frames"),
            "mviou": mean_metric(state, "mviou", "mviou_videos", notes,
                                 "fake video with annotated fake frames and a GT mask video"),
        }
        values["score"] = weighted_score(values, options, notes)
        values["frame_f1"] = float(metrics.f1(c["frame_tp"], c["frame_fp"], c["frame_fn"]))
        for r in VIOU_THRESHOLDS:
            n = c["mviou_videos"]
            values[f"viou@{r}"] = float(Fraction(c[f"viou>{r}"], n)) if n else None
        if not c["mviou_videos"]:
            notes.append("viou@R: undefined, no video enters mviou")
        values.update(rank_metrics(state, options, notes))
        return values, notes


class _SampleError(Exception):
    def __init__(self, side: str, uri: str, what: str, detail: str):
        super().__init__(detail)
        self.side, self.uri, self.what, self.detail = side, uri, what, detail

    def manifest(self, ctx: Context) -> str:
        return ctx.gt_uri if self.side == "gt" else ctx.pred_uri


_END = object()


def _count_frames(counter, video: int, truth, guess, num_frames, gt_uri, pred_uri, ctx: Context,
                  frame_counts: list) -> int:
    """|P ∪ G| of one video; the counts of its frames in P∩G, for vIoU = (Σ_{t ∈ P∩G} IoU_t) / |P ∪ G|.

    Every given video is decoded to its end and checked (frame count, frame size). Frames are
    counted only where P∩G has frames, which needs the GT video; (video, counts) go to
    `frame_counts` now or, from the GPU's batches, with a later video or `counter.finish()`.
    """
    both = intervals.intersection(truth, guess)
    union = intervals.total(truth) + intervals.total(guess) - intervals.total(both)
    next_pair = 0
    sides = [(side, uri) for side, uri in (("gt", gt_uri), ("pred", pred_uri)) if uri is not None]
    streams = [_frames(side, uri, ctx) for side, uri in sides]
    shape, seen = None, 0
    for t, frames in enumerate(itertools.zip_longest(*streams, fillvalue=_END)):
        for (side, uri), frame in zip(sides, frames):
            if (frame is _END) != (t >= num_frames):
                raise _SampleError(side, uri, "wrong number of mask-video frames",
                                   f"num_frames is {num_frames}, the video has "
                                   f"{'fewer' if frame is _END else 'more'}")
            if frame is _END:  # this side ended at num_frames; another side has more
                continue
            shape = shape or frame.shape
            if frame.shape != shape:
                raise _SampleError(side, uri, "mask-video frame size differs from the GT's",
                                   f"frame {t} is {frame.shape[1]}x{frame.shape[0]}, "
                                   f"expected {shape[1]}x{shape[0]}")
        seen = t + 1
        while next_pair < len(both) and both[next_pair][1] <= t:
            next_pair += 1
        if next_pair < len(both) and both[next_pair][0] <= t:
            if len(frames) == 2:
                frame_counts += counter.add(video, frames[0], frames[1])
            else:
                frame_counts.append((video, (0, forged_pixels(frames[0]), 0)))
    if seen < num_frames:  # every stream ended early together
        side, uri = sides[0]
        raise _SampleError(side, uri, "wrong number of mask-video frames",
                           f"num_frames is {num_frames}, the video has {seen}")
    return union


def _frames(side: str, uri: str, ctx: Context):
    """Frames of one mask video; a decoding problem becomes a _SampleError of that side."""
    try:
        yield from luma_frames(open_file(uri, ctx.storage_options), ctx.options["max_pixels"])
    except MediaError as e:
        raise _SampleError(side, uri, "unreadable mask video", str(e)) from None
