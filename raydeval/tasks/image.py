"""`openmmsec-image`: image-level macro-F1 plus per-image pixel F1 (SPEC §1.2, §2.1)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pyarrow as pa

from raydeval import metrics
from raydeval.errors import Problems
from raydeval.io import columns
from raydeval.io.manifest import Manifest
from raydeval.media import MediaError, prefetching
from raydeval.media.backend import array_module, forged_pixels, overlap_counter
from raydeval.media.masks import decode_mask
from raydeval.samples import Mean, Samples, label_samples
from raydeval.state import State
from raydeval.tasks.base import (COMMON_CONVENTIONS, Context, Convention, Task, joined_labels,
                                 mean_metric, rank_metrics, take_pred, weighted_score)


class ImageTask(Task):
    name = "openmmsec-image"
    summary = "image real/fake detection (macro-F1) and forged-region masks (pixel F1)"
    headline = ("macro_f1", "pixel_f1")
    extras = ("pixel_f1_pooled", "auc", "ap", "eer")
    gt_columns = ("id", "label", "mask")
    default_weights = (Fraction(1, 2), Fraction(1, 2))
    conventions = {
        **COMMON_CONVENTIONS,
        "authentic_policy": Convention("exclude", ("exclude", "zero", "one_if_pred_empty"),
                                       "how real images enter pixel_f1"),
        "resize_pred": Convention("none", ("none", "nearest"),
                                  "predicted mask of another shape: error, or nearest-neighbour resize"),
    }

    def join(self, gt: Manifest, pred: Manifest, options: dict, problems: Problems) -> pa.Table:
        out, pred_ids = joined_labels(gt, pred, options, problems)
        out["gt_mask"] = columns.uris(gt, "mask", out["id"], problems)
        out["pred_mask"] = take_pred(columns.uris(pred, "mask", pred_ids, problems), out.pop("pred_row"))
        return pa.table(out)

    def samples(self, shard: dict, ctx: Context) -> tuple[Samples, Problems]:
        out, problems = label_samples(shard), Problems()
        n = len(out)
        pixel = {key: np.zeros(n, np.int64) for key in ("pixel_images", "pixel_tp", "pixel_fp", "pixel_fn")}
        f1 = np.full(n, np.nan)
        counter = overlap_counter(array_module(ctx.device))
        fake_counts = []  # (index, (|G ∩ P|, |G|, |P|)) of each fake image
        with prefetching(files_to_read(shard, ctx), ctx.storage_options) as read:
            self._pixel_counts(shard, ctx, read, counter, problems, f1, fake_counts)
        for i, (tp, true_px, pred_px) in fake_counts + counter.finish():
            pixel["pixel_images"][i], pixel["pixel_tp"][i] = 1, tp
            pixel["pixel_fp"][i], pixel["pixel_fn"][i] = pred_px - tp, true_px - tp
            f1[i] = metrics.per_sample_f1(tp, pred_px, true_px)
        out.counts.update(pixel)
        out.means["pixel_f1"] = Mean("pixel_f1", "pixel_f1_samples", f1)
        return out, problems

    @staticmethod
    def _pixel_counts(shard: dict, ctx: Context, read, counter, problems: Problems, f1: np.ndarray,
                      fake_counts: list) -> None:
        """Reads and counts each sample's masks: per-sample F1 of real images into `f1`, counts of
        fake images to `fake_counts` by sample index (from the counter now or at its finish)."""
        policy = ctx.options["authentic_policy"]
        for i, (sample_id, label, gt_uri, pred_uri) in enumerate(zip(
                shard["id"], shard["gt_label"].tolist(), shard["gt_mask"], shard["pred_mask"])):
            if ctx.decode_only:
                _check_readable(sample_id, gt_uri, pred_uri, ctx, read, problems)
                continue
            if gt_uri is None and (label == 1 or policy == "exclude"):
                continue  # a fake without localisation, or a real image without a mask to check
            try:
                truth = _load(read, gt_uri, ctx) if gt_uri is not None else None
            except MediaError as e:
                problems.add(ctx.gt_uri, "mask", "unreadable GT mask", [f"{sample_id} ({gt_uri}: {e})"])
                continue
            if label == 0 and truth is not None and forged_pixels(truth):
                problems.add(ctx.gt_uri, "mask", "real image with a non-empty GT mask", [sample_id])
                continue
            if label == 0 and policy == "zero":
                f1[i] = 0.0
                continue
            if label == 0 and policy == "exclude":
                continue
            try:
                guess = _load(read, pred_uri, ctx) if pred_uri is not None else None
                if guess is not None and truth is not None and guess.shape != truth.shape:
                    guess = _fit(guess, truth.shape, ctx.options["resize_pred"])
            except MediaError as e:
                problems.add(ctx.pred_uri, "mask", "unusable predicted mask", [f"{sample_id} ({pred_uri}: {e})"])
                continue
            if label == 0:  # one_if_pred_empty
                f1[i] = 1.0 if guess is None or not forged_pixels(guess) else 0.0
                continue
            if guess is None:
                fake_counts.append((i, (0, forged_pixels(truth), 0)))
            else:
                fake_counts += counter.add(i, truth, guess)

    def finalize(self, state: State, options: dict) -> tuple[dict, list[str]]:
        notes: list[str] = []
        c = state.counts
        values = {
            "macro_f1": float(metrics.macro_f1(c)),
            "pixel_f1": mean_metric(state, "pixel_f1", "pixel_f1_samples", notes,
                                    "image enters pixel F1 (no fake image with a GT mask)"),
        }
        values["score"] = weighted_score(values, options, notes)
        values["pixel_f1_pooled"] = float(metrics.f1(c["pixel_tp"], c["pixel_fp"], c["pixel_fn"]))
        values.update(rank_metrics(state, options, notes))
        return values, notes


def files_to_read(shard: dict, ctx: Context) -> list:
    """The mask files of a shard in the order `_pixel_counts` reads them (what remote read-ahead
    fetches): none of a fake image without a GT mask, and a real image's predicted mask only under
    `authentic_policy=one_if_pred_empty`, the policy that scores it."""
    policy = ctx.options["authentic_policy"]
    uris = []
    for label, gt_uri, pred_uri in zip(shard["gt_label"].tolist(), shard["gt_mask"], shard["pred_mask"]):
        if ctx.decode_only or label == 1 and gt_uri is not None:
            uris += [gt_uri, pred_uri]
        elif label == 0 and (gt_uri is not None or policy != "exclude"):
            uris += [gt_uri, pred_uri if policy == "one_if_pred_empty" else None]
    return uris


def _check_readable(sample_id, gt_uri, pred_uri, ctx: Context, read, problems: Problems) -> None:
    """`validate --decode`: every referenced mask decodes, and the two of a sample agree in shape."""
    masks = {}
    for side, uri, manifest in (("gt", gt_uri, ctx.gt_uri), ("pred", pred_uri, ctx.pred_uri)):
        if uri is None:
            continue
        try:
            masks[side] = _load(read, uri, ctx)
        except MediaError as e:
            problems.add(manifest, "mask", f"unreadable {'GT' if side == 'gt' else 'predicted'} mask",
                         [f"{sample_id} ({uri}: {e})"])
    if len(masks) == 2 and masks["gt"].shape != masks["pred"].shape:
        try:
            _fit(masks["pred"], masks["gt"].shape, ctx.options["resize_pred"])
        except MediaError as e:
            problems.add(ctx.pred_uri, "mask", "unusable predicted mask", [f"{sample_id} ({pred_uri}: {e})"])


def _load(read, uri: str, ctx: Context) -> np.ndarray:
    return decode_mask(read(uri), ctx.options["max_pixels"])


def _fit(mask: np.ndarray, shape: tuple[int, int], resize: str) -> np.ndarray:
    """The prediction at the GT's shape: error, or nearest-neighbour (pixel centres) resize."""
    if resize != "nearest":
        raise MediaError(f"shape {mask.shape[0]}x{mask.shape[1]} differs from the GT mask's "
                         f"{shape[0]}x{shape[1]} (use --resize-pred nearest to resize)")
    rows = (2 * np.arange(shape[0]) + 1) * mask.shape[0] // (2 * shape[0])
    cols = (2 * np.arange(shape[1]) + 1) * mask.shape[1] // (2 * shape[1])
    return mask[rows[:, None], cols[None, :]]
