"""What every task shares: conventions, the GT/prediction join, label and score handling."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pyarrow as pa

from raydeval import metrics
from raydeval.analysis import Analysis
from raydeval.errors import InputError, Problems
from raydeval.io import columns, messages
from raydeval.io.manifest import Manifest
from raydeval.samples import Samples, label_samples, sum_state
from raydeval.state import State

DEFAULT_MAX_PIXELS = 2**28


@dataclass(frozen=True)
class Convention:
    """A named evaluation choice, recorded in every result."""

    default: object
    choices: tuple = ()
    help: str = ""


COMMON_CONVENTIONS = {
    "positive": Convention("fake", help="positive class (fixed)"),
    "threshold": Convention("score > 0.5", help="label derived from score when `label` is absent (fixed)"),
    "zero_division": Convention(0, help="value of pooled F1-type ratios at 0/0 (fixed)"),
    "missing": Convention("error", ("error", "negative"),
                          "GT ids without a prediction: error, or score them as predicted real/empty"),
    "eer": Convention("asvspoof", tuple(metrics.EER_VARIANTS),
                      "EER definition: ASVspoof package, DeepfakeBench (roc_fpr), HAMMER (interp) or "
                      "exact rationals (SPEC §2.4)"),
    "max_pixels": Convention(DEFAULT_MAX_PIXELS, help="largest mask (pixels) decoded; larger is an error"),
}


@dataclass
class Context:
    """What a worker needs besides its shard: conventions, storage and where rows came from."""

    options: dict
    gt_uri: str = ""
    pred_uri: str = ""
    storage_options: dict = field(default_factory=dict)
    device: str = "cpu"
    decode_only: bool = False
    analysis: Analysis = field(default_factory=Analysis)


class Task:
    """A benchmark task: columns, per-shard update, finalize. Subclasses fill in the details."""

    name: str
    summary: str
    headline: tuple[str, ...]  # metrics that make up `score`, in `--weights` order
    extras: tuple[str, ...]
    default_weights: tuple[Fraction, ...]
    conventions: dict[str, Convention]
    gt_columns: tuple[str, ...] = ("id", "label")  # GT columns the task reads; the others are metadata
    label_only = False  # reads only labels and scores (no media): eligible for the out-of-core join
    score_curves = True  # its per-score counts are scores of samples (the result's ROC/DET summary)

    def options(self, **given) -> dict:
        """Conventions with defaults filled in and choices checked."""
        out = {}
        for name, conv in self.conventions.items():
            value = given.pop(name, None)
            value = conv.default if value is None else value
            if conv.choices and value not in conv.choices:
                raise InputError(f"{self.name}: {name} must be one of {', '.join(conv.choices)}, got {value!r}")
            out[name] = value
        weights = given.pop("weights", None) or self.default_weights
        if len(weights) != len(self.headline):
            raise InputError(f"{self.name}: --weights needs {len(self.headline)} values "
                             f"({', '.join(self.headline)}), got {len(weights)}")
        out["weights"] = dict(zip(self.headline, (float(w) for w in weights)))
        if given:
            raise InputError(f"{self.name}: unknown option(s) {', '.join(sorted(given))}")
        return out

    # driver side -------------------------------------------------------------------
    def prepare(self, gt: Manifest, pred: Manifest, options: dict) -> pa.Table:
        """Validate both manifests and join them into one row per GT sample (raises InputError)."""
        problems = Problems()
        table = self.join(gt, pred, options, problems)
        problems.raise_if_any()
        return table

    def join(self, gt: Manifest, pred: Manifest, options: dict, problems: Problems) -> pa.Table:
        """One row per GT row, each checked on its own (problems collected; a missing column or a
        wrong type raises InputError). A task with this method takes row batches of any manifest
        size: `raydeval.engine.streamed` calls it on batches of GT rows and their predictions."""
        raise NotImplementedError

    @property
    def joins_batches(self) -> bool:
        return type(self).join is not Task.join

    def shard_columns(self, names: list[str], ctx: Context) -> list[str]:
        """The columns of the joined table (`names`) that `evaluate` reads (only these travel to workers)."""
        return names

    def media_columns(self, ctx: Context) -> tuple[str, ...]:
        """The columns of the joined table naming media files that `evaluate` may read."""
        return ("gt_mask", "pred_mask")

    # worker side -------------------------------------------------------------------
    def samples(self, shard: dict, ctx: Context) -> tuple[Samples, Problems]:
        """Per-sample contributions of one shard of joined rows. A task that gives them can be
        broken down by group, bootstrapped and written out per sample."""
        raise NotImplementedError

    @property
    def has_samples(self) -> bool:
        return type(self).samples is not Task.samples

    def evaluate(self, shard: dict, ctx: Context) -> tuple[State, Problems]:
        """The state of one shard of joined rows (the sum of its samples' contributions)."""
        samples, problems = self.samples(shard, ctx)
        return sum_state(samples), problems

    # driver side, after the merge ------------------------------------------------------
    def finalize(self, state: State, options: dict) -> tuple[dict, list[str]]:
        """Metrics (float or None) and notes explaining each None."""
        raise NotImplementedError


def joined_labels(gt: Manifest, pred: Manifest, options: dict, problems: Problems) -> tuple[dict, pa.Array]:
    """The columns every task needs, joined on `id` in GT order, and the prediction ids.

    The columns are `id`, `gt_label`, `pred_label`, optional `pred_score` and the prediction
    row of each GT row (`pred_row`, -1 where missing).
    """
    gt_ids = columns.ids(gt, problems)
    pred_ids = columns.ids(pred, problems)
    columns.require(gt, "label")
    if not (columns.has(pred, "label") or columns.has(pred, "score")):
        raise InputError(messages.no_label_or_score(pred.uri))
    gt_label = columns.labels(gt, "label", gt_ids, problems)
    score = columns.scores(pred, "score", pred_ids, problems) if columns.has(pred, "score") else None
    if columns.has(pred, "label"):
        pred_label = columns.labels(pred, "label", pred_ids, problems)
    else:
        pred_label = (score > 0.5).astype(np.int8)

    row = join_rows(gt, gt_ids, pred, pred_ids, options, problems)
    present = row >= 0
    take = np.where(present, row, 0)
    out = {
        "id": gt_ids,
        "gt_label": gt_label,
        "pred_label": np.where(present, pred_label[take] if len(pred_label) else 0, 0).astype(np.int8),
        "pred_row": row,
    }
    if score is not None:
        out["pred_score"] = np.where(present, score[take] if len(score) else 0.0, 0.0)
    return out, pred_ids


def join_rows(gt: Manifest, gt_ids: pa.Array, pred: Manifest, pred_ids: pa.Array, options: dict,
              problems: Problems, negative: str | None = "predicted real") -> np.ndarray:
    """For each GT row, its prediction row (-1 where missing). Missing ids are a problem unless
    `missing` is negative (scored as `negative`, None where that is no choice); extra ids a warning
    (printed by `problems.raise_if_any`)."""
    row = columns.join_ids(gt, gt_ids, pred, pred_ids, problems)
    present = row >= 0
    missing = gt_ids.filter(pa.array(~present)).drop_null().to_pylist()
    if missing and options["missing"] == "error":
        problems.add(pred.uri, "id", messages.missing_ids(negative), missing)
    problems.extra[pred.uri] = len(pred_ids) - int(present.sum())
    return row


def take_pred(values: list, pred_row: np.ndarray, empty=None) -> list:
    """A prediction column in GT order; `empty` where the prediction is missing."""
    return [values[r] if r >= 0 else empty for r in pred_row.tolist()]


def label_state(shard: dict) -> State:
    """Sample-level confusion counts and per-score counts of a shard."""
    return sum_state(label_samples(shard))


def rank_metrics(state: State, options: dict, notes: list[str]) -> dict:
    """auc / ap / eer (the `eer` convention's definition) from the merged per-score counts, when
    scores were given."""
    if state.scores is None:
        return {}
    sc = state.scores
    out = {"auc": metrics.auc(sc.scores, sc.pos, sc.neg),
           "ap": metrics.average_precision(sc.scores, sc.pos, sc.neg),
           "eer": metrics.EER_VARIANTS[options["eer"]](sc.scores, sc.pos, sc.neg)}
    if out["auc"] is None:
        notes.append("auc, eer: undefined with only one class present in the GT")
    if out["ap"] is None:
        notes.append("ap: undefined with no positive (fake) sample in the GT")
    return out


def mean_metric(state: State, key: str, count: str, notes: list[str], why: str) -> float | None:
    """Correctly rounded mean of an exact sum; None (with a note) over zero samples."""
    value = metrics.finish_mean(state.sums.get(key, 0), state.counts.get(count, 0))
    if value is None:
        notes.append(f"{key}: undefined, no {why}")
    return value


def weighted_score(values: dict, options: dict, notes: list[str]) -> float | None:
    """Σ w_k·m_k with decimal weights taken exactly, rounded once; None if a component is None."""
    weights = options["weights"]
    if any(values[k] is None for k in weights):
        notes.append("score: undefined because a component metric is undefined")
        return None
    return float(sum(Fraction(repr(w)) * Fraction(values[k]) for k, w in weights.items()))
