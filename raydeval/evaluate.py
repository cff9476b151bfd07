"""One evaluation end to end: read, validate, shard on Ray, merge, finalize, build the result."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import raydeval
from raydeval.errors import InputError
from raydeval.engine.run import Progress, ensure_ray, evaluate_table
from raydeval.engine.shards import shard_bounds
from raydeval.io.manifest import read_manifest
from raydeval.io.result import SCHEMA, package_versions, redact
from raydeval.tasks import get_task
from raydeval.tasks.base import Context


@dataclass
class RunSettings:
    """How to run (never part of the metrics): Ray address, workers, shard size, device, storage."""

    address: str | None = None
    workers: int = 0  # 0: one per CPU of the local machine / cluster
    shard_size: int = 0  # 0: automatic
    device: str = "cpu"
    storage_options: dict = field(default_factory=dict)
    progress: bool = True


def prepare(task_name: str, gt_uri: str, pred_uri: str, conventions: dict, settings: RunSettings):
    """Task, options, both manifests and the validated joined table (no Ray needed)."""
    task = get_task(task_name)
    options = task.options(**conventions)
    gt = read_manifest(gt_uri, settings.storage_options)
    pred = read_manifest(pred_uri, settings.storage_options)
    if gt.rows == 0:
        raise InputError(f"{gt.uri}: the GT manifest has no rows")
    return task, options, gt, pred, task.prepare(gt, pred, options)


def evaluate(task_name: str, gt_uri: str, pred_uri: str, conventions: dict | None = None,
             settings: RunSettings | None = None, decode_only: bool = False) -> dict:
    """The result dict of one evaluation; raises InputError on any input problem."""
    settings = settings or RunSettings()
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    task, options, gt, pred, table = prepare(task_name, gt_uri, pred_uri, conventions or {}, settings)
    mode = ensure_ray(settings.address, settings.workers or os.cpu_count() or 1)
    workers = settings.workers or int(_cluster_resource("CPU") or 1)
    gpus = _cluster_resource("GPU")
    if settings.device == "gpu" and not gpus:
        raise InputError("--device gpu: the Ray cluster has no GPU (use --device auto to fall back to NumPy)")
    bounds = shard_bounds(table.num_rows, workers, settings.shard_size)
    ctx = Context(options, gt.uri, pred.uri, settings.storage_options, settings.device, decode_only)
    progress = Progress(task.name, table.num_rows, len(bounds)) if settings.progress else None
    gpus_per_shard = gpus / workers if settings.device == "gpu" else 0.0
    state, problems = evaluate_table(task.name, table, ctx, workers, bounds, progress, gpus_per_shard)
    problems.raise_if_any()
    values, notes = task.finalize(state, options)
    return {
        "schema": SCHEMA,
        "task": task.name,
        "metrics": values,
        "counts": dict(sorted(state.counts.items())),
        "notes": notes,
        "conventions": options,
        "inputs": {name: {"uri": redact(m.uri), "sha256": m.sha256, "rows": m.rows}
                   for name, m in (("gt", gt), ("pred", pred))},
        "run": {"raydeval": raydeval.__version__, "started": started.isoformat(timespec="seconds"),
                "seconds": round(time.monotonic() - clock, 3), "ray": mode, "workers": workers,
                "shards": len(bounds), "device": settings.device,
                "versions": package_versions()},
    }


def _cluster_resource(name: str) -> float:
    import ray

    return float(ray.cluster_resources().get(name, 0))
