"""The driver's side of the analyses: breakdowns, intervals and the per-score summary of a result."""

from __future__ import annotations

import numpy as np

from raydeval.analysis import LEVEL, Analysis
from raydeval.state import ScoreCounts, State

SCORE_POINTS = 1024  # per-score counts in a result at most (binned beyond)
RANK = ("auc", "ap", "eer")


def breakdown(task, state: State, options: dict, analysis: Analysis) -> tuple[dict, list[str]]:
    """{column: {value: {n, metrics, notes[, intervals]}}} from the merged state's cells."""
    out, notes = {}, []
    for column in analysis.group_by:
        cells = {value: cell for (col, value, part), cell in state.cells.items() if col == column and part != "real"}
        if analysis.shared_negatives:
            reals = state.cells.get((column, "", "real"), State())
            cells = {value: State.merged([cell, reals]) for value, cell in cells.items()}
            if not reals.counts.get("samples"):
                notes.append(f"breakdown by {column}: no real sample to share as negatives")
        out[column] = {}
        for value, cell in sorted(cells.items()):
            values, cell_notes = task.finalize(cell, options)
            entry = {"n": cell.counts.get("samples", 0), "metrics": values, "notes": cell_notes}
            if cell.replicates is not None:
                entry["intervals"] = intervals(task, cell.replicates, options, analysis)[0]
            out[column][value] = entry
    return out, notes


def interval_metrics(task, analysis: Analysis) -> tuple[str, ...]:
    """The metrics bootstrapped: those that make up `score` and `score` itself (the pooled F1
    family for a task without one), plus auc / ap / eer when the scores fit the grid."""
    base = (*task.headline, "score") if task.headline else tuple(m for m in task.extras if m not in RANK)
    return base + (RANK if analysis.grid is not None else ())


def intervals(task, replicates, options: dict, analysis: Analysis) -> tuple[dict, list[str]]:
    """Percentile intervals and standard errors of the interval metrics over the replicates;
    replicates where a metric is undefined are left out of its interval."""
    names = interval_metrics(task, analysis)
    n = analysis.bootstrap
    values = {name: [] for name in names}
    for r in range(n):
        state = State({k: int(v[r]) for k, v in replicates.counts.items()},
                      {k: v[r] for k, v in replicates.sums.items()})
        if analysis.grid is not None:
            state.scores = _grid_counts(analysis.grid, replicates.scores[r])
        metrics, _ = task.finalize(state, options)
        for name in names:
            if metrics.get(name) is not None:
                values[name].append(metrics[name])
    out, notes = {}, []
    tail = 100 * (1 - LEVEL) / 2
    for name, draws in values.items():
        if len(draws) < 2:
            out[name] = None
            notes.append(f"interval of {name}: undefined in all but {len(draws)} of {n} replicates")
            continue
        a = np.array(draws)
        lo, hi = np.percentile(a, [tail, 100 - tail])
        out[name] = {"lo": float(lo), "hi": float(hi), "se": float(a.std(ddof=1)), "level": LEVEL,
                     "replicates": len(draws)}
    return out, notes


def _grid_counts(grid: np.ndarray, counts: np.ndarray) -> ScoreCounts:
    present = counts.sum(axis=1) > 0
    return ScoreCounts(grid[present], counts[present, 0], counts[present, 1])


def score_summary(scores: ScoreCounts | None) -> dict | None:
    """The merged per-score counts for ROC / DET curves: all of them up to SCORE_POINTS distinct
    scores, else SCORE_POINTS bins of about equal sample counts, each at its lowest score (the
    curve's points at the bins' edges are exact)."""
    if scores is None:
        return None
    if scores.scores.size <= SCORE_POINTS:
        return {"score": scores.scores.tolist(), "pos": scores.pos.tolist(), "neg": scores.neg.tolist(),
                "binned": False}
    total = np.cumsum(scores.pos + scores.neg)
    edges = np.unique(np.searchsorted(total, np.linspace(0, total[-1], SCORE_POINTS, endpoint=False), side="right"))
    edges = np.unique(np.concatenate([[0], edges[edges < scores.scores.size]]))
    return {"score": scores.scores[edges].tolist(), "pos": np.add.reduceat(scores.pos, edges).tolist(),
            "neg": np.add.reduceat(scores.neg, edges).tolist(), "binned": True}
