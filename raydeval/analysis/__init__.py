"""Analyses beyond the headline metrics (SPEC §2.6, §3.1): per-group breakdowns (optionally with
shared negatives), bootstrap intervals and per-sample rows.

All three are sums of the per-sample contributions of `raydeval.samples`, computed on the workers
next to the shard's own state: a group cell sums the samples of one group value, a bootstrap
replicate weights every sample by its Poisson draw, and the per-sample rows are the
contributions themselves, written by the workers as Parquet parts. The driver only merges states.
"""

from __future__ import annotations

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
    per_sample_only = ("shared negatives" if analysis.shared_negatives else "bootstrap" if analysis.bootstrap
                       else "per-sample rows" if analysis.per_sample else None)
    if per_sample_only and not task.has_samples:
        raise InputError(f"{task.name}: {per_sample_only} are not available for this task "
                         "(it has no per-sample values); --group-by is")
    if table.num_rows != gt.rows:
        raise InputError(f"{task.name}: breakdowns and per-sample rows need one evaluated row per GT row")
    available = [c for c in gt.table.column_names if c not in task.gt_columns]
    unknown = [c for c in analysis.group_by if c not in available]
    if unknown:
        raise InputError(f"{gt.uri}: --group-by {', '.join(unknown)}: no such GT metadata column "
                         f"(available: {', '.join(available) or 'none'})")
    for column in analysis.group_by:
        table = table.append_column(f"group:{column}", pc.cast(gt.table.column(column), pa.string()))
    meta = tuple(available) if analysis.per_sample else ()
    for column in meta:
        table = table.append_column(f"meta:{column}", gt.table.column(column))
    grid = None
    if analysis.bootstrap and "pred_score" in table.column_names:
        distinct = np.unique(table.column("pred_score").to_numpy() + 0.0)
        grid = distinct if distinct.size <= GRID_MAX else None
    return table, Analysis(analysis.group_by, analysis.shared_negatives, analysis.bootstrap, analysis.seed,
                           analysis.per_sample, grid, meta)


def extra_columns(analysis: Analysis) -> list[str]:
    """The columns of the joined table that a shard needs for the analysis."""
    if not analysis:
        return []
    ids = ["id"] if analysis.bootstrap or analysis.per_sample else []
    return ids + [f"group:{c}" for c in analysis.group_by] + [f"meta:{c}" for c in analysis.meta]
