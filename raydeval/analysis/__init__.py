"""Analyses beyond the headline metrics (SPEC §2.6, §3.1): per-group breakdowns (optionally with
shared negatives), bootstrap intervals and per-sample rows.

All three are sums of the per-sample contributions of `raydeval.samples`, computed on the workers
next to the shard's own state: a group cell sums the samples of one group value, a bootstrap
replicate weights every sample by its Poisson draw, and the per-sample rows are the
contributions themselves, written by the workers as Parquet parts. The driver only merges states.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raydeval.errors import InputError

GRID_MAX = 256  # distinct scores at most for bootstrapped auc / ap / eer (per-replicate counts on a grid)
LEVEL = 0.95
MISSING = "(missing)"  # the group value of a null cell


@dataclass
class Analysis:
    """What to compute besides the metrics. `grid` and `meta` are filled in by `prepare`."""

    group_by: tuple[str, ...] = ()
    shared_negatives: bool = False
    bootstrap: int = 0
    seed: int = 0
    per_sample: str | None = None
    grid: np.ndarray | None = None  # the distinct scores, when few enough for rank-metric replicates
    meta: tuple[str, ...] = ()  # GT metadata columns written per sample

    def __bool__(self) -> bool:
        return bool(self.group_by or self.bootstrap or self.per_sample)

    def conventions(self) -> dict:
        """What the result records among its conventions (what shapes `breakdown` and `intervals`)."""
        out = {}
        if self.group_by:
            out.update(group_by=list(self.group_by), shared_negatives=self.shared_negatives)
        if self.bootstrap:
            out["bootstrap"] = {"replicates": self.bootstrap, "seed": self.seed, "level": LEVEL,
                                "resampling": "poisson", "interval": "percentile"}
        return out

    def ledger(self) -> dict:
        """What a resumed run must share with the run it resumes."""
        from raydeval.io.result import redact

        return {**self.conventions(), "per_sample": redact(self.per_sample) if self.per_sample else None}


def check(analysis: Analysis) -> None:
    """Usage errors of the options themselves (before any file is read)."""
    if analysis.shared_negatives and not analysis.group_by:
        raise InputError("--shared-negatives needs --group-by (it scores each group's fakes with all reals)")
    if analysis.bootstrap and analysis.bootstrap < 2:
        raise InputError("--bootstrap needs at least 2 replicates")
    if analysis.seed < 0 or analysis.bootstrap < 0 or analysis.seed >= 2**64:
        raise InputError("--bootstrap must not be negative, --seed must be in [0, 2^64)")
    if len(set(analysis.group_by)) != len(analysis.group_by):
        raise InputError(f"--group-by names a column twice: {', '.join(analysis.group_by)}")


def prepare(task, gt, table: pa.Table, analysis: Analysis) -> tuple[pa.Table, Analysis]:
    """The joined table with the GT columns the analysis needs (`group:C` as text for grouping,
    `meta:C` as given for per-sample rows), and the analysis with its score grid and metadata."""
    if not analysis:
        return table, analysis
    if table.num_rows != gt.rows:
        raise InputError(f"{task.name}: breakdowns and per-sample rows need one evaluated row per GT row")
    analysis = checked(task, gt.uri, gt.table.column_names, analysis)
    grid = Grid()
    if analysis.bootstrap and "pred_score" in table.column_names:
        grid.add(table.column("pred_score").to_numpy())
    return with_columns(table, gt.table, analysis), grid.done(analysis)


def checked(task, gt_uri: str, gt_names: list[str], analysis: Analysis) -> Analysis:
    """The analysis with the GT metadata it writes per sample, once checked against the task and
    the GT's columns."""
    per_sample_only = ("shared negatives" if analysis.shared_negatives else "bootstrap" if analysis.bootstrap
                       else "per-sample rows" if analysis.per_sample else None)
    if per_sample_only and not task.has_samples:
        raise InputError(f"{task.name}: {per_sample_only} are not available for this task "
                         "(it has no per-sample values); --group-by is")
    available = [c for c in gt_names if c not in task.gt_columns]
    unknown = [c for c in analysis.group_by if c not in available]
    if unknown:
        raise InputError(f"{gt_uri}: --group-by {', '.join(unknown)}: no such GT metadata column "
                         f"(available: {', '.join(available) or 'none'})")
    return dataclasses.replace(analysis, meta=tuple(available) if analysis.per_sample else ())


def with_columns(table: pa.Table, gt: pa.Table, analysis: Analysis) -> pa.Table:
    """`table` (rows of the GT rows `gt`) with the analysis's group and metadata columns."""
    for column in analysis.group_by:
        table = table.append_column(f"group:{column}", pc.cast(gt.column(column), pa.string()))
    for column in analysis.meta:
        table = table.append_column(f"meta:{column}", gt.column(column))
    return table


class Grid:
    """The distinct scores of the predictions seen, while there are at most GRID_MAX of them."""

    def __init__(self):
        self.scores: np.ndarray | None = np.empty(0)

    def add(self, scores: np.ndarray) -> None:
        if self.scores is not None:
            self.scores = np.union1d(self.scores, scores + 0.0)
            if self.scores.size > GRID_MAX:
                self.scores = None

    def done(self, analysis: Analysis) -> Analysis:
        """The analysis with its grid (None: too many distinct scores, or no bootstrap)."""
        grid = self.scores if analysis.bootstrap and self.scores is not None and self.scores.size else None
        return dataclasses.replace(analysis, grid=grid)


def extra_columns(analysis: Analysis) -> list[str]:
    """The columns of the joined table that a shard needs for the analysis."""
    if not analysis:
        return []
    ids = ["id"] if analysis.bootstrap or analysis.per_sample else []
    return ids + [f"group:{c}" for c in analysis.group_by] + [f"meta:{c}" for c in analysis.meta]
