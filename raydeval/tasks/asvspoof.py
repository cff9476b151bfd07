"""`asvspoof`: ASVspoof 5 track 1 countermeasure metrics from scores, higher = bona fide (SPEC §6),
and the ASVspoof 2021 min t-DCF when ASV scores are given (REFERENCE_METRICS §4.2)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raydeval import metrics
from raydeval.errors import InputError, Problems
from raydeval.io import columns
from raydeval.io.manifest import Manifest, read_manifest
from raydeval.io.result import redact
from raydeval.state import ScoreCounts, State
from raydeval.tasks.base import COMMON_CONVENTIONS, Context, Convention, Task, join_rows

ASV_KEYS = ("target", "nontarget", "spoof")
P_SPOOF_2021 = 0.05
COST_MODEL_2021 = {"p_spoof": P_SPOOF_2021, "p_tar": (1 - P_SPOOF_2021) * 0.99, "p_non": (1 - P_SPOOF_2021) * 0.01,
                   "c_miss": 1, "c_fa": 10, "c_fa_spoof": 10}  # the ASVspoof 2021 ranking's t-DCF cost model


class AsvspoofTask(Task):
    name = "asvspoof"
    summary = ("ASVspoof 5 track 1 countermeasure scores, higher = bona fide (minDCF, actDCF, Cllr, EER; "
               "ASVspoof 2021 min t-DCF with --asv-scores)")
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
        "asv_scores": Convention(None, help="ASV score manifest (key target|nontarget|spoof, score; id optional): "
                                            "adds min_tdcf, the ASVspoof 2021 min t-DCF; its cost model, ASV "
                                            "error rates and C0, C1, C2 are recorded under `tdcf`"),
    }

    def prepare(self, gt: Manifest, pred: Manifest, options: dict) -> pa.Table:
        problems = Problems()
        gt_ids, pred_ids = columns.ids(gt, problems), columns.ids(pred, problems)
        columns.require(gt, "label")
        columns.require(pred, "score")
        label = columns.labels(gt, "label", gt_ids, problems)
        score = finite_numbers(pred, "score", pred_ids, problems)
        row = join_rows(gt, gt_ids, pred, pred_ids, options, problems, negative=None)
        asv = read_asv_scores(options["asv_scores"], problems) if options["asv_scores"] else None
        problems.raise_if_any()
        if asv:
            options["tdcf"] = tdcf_conventions(*asv)
            options["asv_scores"] = redact(options["asv_scores"])
        return pa.table({"id": gt_ids, "gt_label": label, "pred_score": score[row]})

    def shard_columns(self, names: list[str], ctx: Context) -> list[str]:
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
        if "tdcf" in options:
            values["min_tdcf"] = metrics.min_tdcf(*counts, *(options["tdcf"][c] for c in ("c0", "c1", "c2")))
            if values["min_tdcf"] is None:
                notes.append("min_tdcf: undefined without both bona fide and spoof trials"
                             if values["eer"] is None else
                             "min_tdcf: undefined with fewer than 3 distinct scores (soft scores, not decisions)")
        return values, notes


def finite_numbers(m: Manifest, name: str, row_ids: pa.Array, problems: Problems) -> np.ndarray:
    """A column of finite float64 numbers (scores as log-likelihood ratios: any real value)."""
    out = columns._numbers(m, name, "numbers")
    bad = ~np.isfinite(out)
    columns._report(m, name, "expected a finite number (NaN, inf or empty)", row_ids, bad, problems)
    return np.where(bad, 0.0, out) + 0.0


def read_asv_scores(uri: str, problems: Problems) -> tuple[Manifest, np.ndarray, np.ndarray]:
    """The ASV score manifest, its keys (0 target, 1 nontarget, 2 spoof) and finite scores; bad
    values go to `problems`, named by `id` where there is one, else by row."""
    m = read_manifest(uri)
    columns.require(m, "key", "score")
    if columns.has(m, "id"):
        row_ids = columns.ids(m, problems)
    else:
        row_ids = pa.array([f"row {i + 1}" for i in range(m.rows)], pa.string())
    col = m.table.column("key").combine_chunks()
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_null(col.type)):
        raise InputError(f"{m.uri}, column `key`: expected {', '.join(ASV_KEYS)}, got {col.type}")
    found = pc.index_in(col.cast(pa.string()), value_set=pa.array(ASV_KEYS))
    key = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int8)
    columns._report(m, "key", f"expected {', '.join(ASV_KEYS)}", row_ids, key < 0, problems)
    return m, key, finite_numbers(m, "score", row_ids, problems)


def tdcf_conventions(m: Manifest, key: np.ndarray, score: np.ndarray) -> dict:
    """The t-DCF's cost model, the ASV error rates at the ASV EER threshold and C0, C1, C2."""
    trials = {name: score[key == k] for k, name in enumerate(ASV_KEYS)}
    for name, values in trials.items():
        if values.size == 0:
            raise InputError(f"{m.uri}, column `key`: no `{name}` trial (the t-DCF needs target, "
                             "nontarget and spoof ASV trials)")
    rates = metrics.asv_error_rates(trials["target"], trials["nontarget"], trials["spoof"])
    c0, c1, c2 = metrics.tdcf_weights(rates["p_miss"], rates["p_fa"], rates["p_fa_spoof"], COST_MODEL_2021)
    if c1 < 0:
        raise InputError(f"{m.uri}, column `score`: the ASV error rates at the ASV EER threshold (miss "
                         f"{rates['p_miss']}, false alarm {rates['p_fa']}) give a negative t-DCF weight C1 = {c1}")
    asv = {"sha256": m.sha256, **{f"{name}s": int(v.size) for name, v in trials.items()}, **rates}
    return {"cost_model": COST_MODEL_2021, "asv": asv, "c0": c0, "c1": c1, "c2": c2}
