"""`asvspoof`: ASVspoof 5 track 1 countermeasure metrics from scores, higher = bona fide (SPEC §6)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from raydeval import metrics
from raydeval.errors import Problems
from raydeval.io import columns
from raydeval.io.manifest import Manifest
from raydeval.state import ScoreCounts, State
from raydeval.tasks.base import COMMON_CONVENTIONS, Context, Convention, Task, join_rows


class AsvspoofTask(Task):
    name = "asvspoof"
    summary = "ASVspoof 5 track 1 countermeasure scores, higher = bona fide (minDCF, actDCF, Cllr, EER)"
    headline = ()
    extras = ("min_dcf", "act_dcf", "cllr", "eer")
    default_weights = ()
    conventions = {
        "positive": Convention("bonafide", help="the target class: bona fide (GT label 0), higher score (fixed)"),
        "p_spoof": Convention(0.05, help="prior of a spoofing attack (ASVspoof 5 cost model)"),
        "c_miss": Convention(1, help="cost of rejecting a bona fide trial (ASVspoof 5 cost model)"),
        "c_fa": Convention(10, help="cost of accepting a spoof (ASVspoof 5 cost model)"),
        "missing": Convention("error", ("error",), "GT ids without a score: an error (every trial needs one)"),
        "eer": COMMON_CONVENTIONS["eer"],
    }

    def prepare(self, gt: Manifest, pred: Manifest, options: dict) -> pa.Table:
        problems = Problems()
        gt_ids, pred_ids = columns.ids(gt, problems), columns.ids(pred, problems)
        columns.require(gt, "label")
        columns.require(pred, "score")
        label = columns.labels(gt, "label", gt_ids, problems)
        score = finite_numbers(pred, "score", pred_ids, problems)
        row = join_rows(gt, gt_ids, pred, pred_ids, options, problems, negative=None)
        problems.raise_if_any()
        return pa.table({"id": gt_ids, "gt_label": label, "pred_score": score[row]})

    def shard_columns(self, table: pa.Table, ctx: Context) -> list[str]:
        return ["gt_label", "pred_score"]

    def media_columns(self, ctx: Context) -> tuple[str, ...]:
        return ()

    def evaluate(self, shard: dict, ctx: Context) -> tuple[State, Problems]:
        bonafide = shard["gt_label"] == 0
        state = State()
        state.add(samples=bonafide.size, bonafide=int(bonafide.sum()), spoof=int((~bonafide).sum()))
        state.scores = ScoreCounts.of(shard["pred_score"], bonafide)  # pos = bona fide, the target
        return state, Problems()

    def finalize(self, state: State, options: dict) -> tuple[dict, list[str]]:
        notes: list[str] = []
        sc = state.scores
        counts = (sc.scores, sc.pos, sc.neg)
        costs = (options["p_spoof"], options["c_miss"], options["c_fa"])
        values = {"min_dcf": metrics.min_dcf(*counts, *costs), "act_dcf": metrics.act_dcf(*counts, *costs),
                  "cllr": metrics.cllr(*counts), "eer": metrics.EER_VARIANTS[options["eer"]](*counts)}
        if values["eer"] is None:
            notes.append("min_dcf, act_dcf, cllr, eer: undefined without both bona fide and spoof trials")
        return values, notes


def finite_numbers(m: Manifest, name: str, row_ids: pa.Array, problems: Problems) -> np.ndarray:
    """A column of finite float64 numbers (scores as log-likelihood ratios: any real value)."""
    out = columns._numbers(m, name, "numbers")
    bad = ~np.isfinite(out)
    columns._report(m, name, "expected a finite number (NaN, inf or empty)", row_ids, bad, problems)
    return np.where(bad, 0.0, out) + 0.0
