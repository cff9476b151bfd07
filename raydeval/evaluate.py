"""One evaluation end to end: read, validate, choose where to run, evaluate the shards not yet
done, merge, finalize, write the result and clean up."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import raydeval
from raydeval.analysis import Analysis, check as check_analysis, per_sample, prepare as prepare_analysis
from raydeval.analysis.finalize import breakdown, intervals, score_summary
from raydeval.engine.plan import runs_in_process
from raydeval.engine.progress import Progress
from raydeval.engine.run import TableRows, evaluate_shards, in_process_runner
from raydeval.engine.session import RaySession, ray_address
from raydeval.engine.shards import shard_bounds
from raydeval.errors import InputError
from raydeval.io import messages
from raydeval.io.fs import check_destination
from raydeval.io.manifest import read_manifest
from raydeval.io.result import SCHEMA, package_versions, redact, to_json, write_atomic
from raydeval.state import State
from raydeval.tasks import get_task
from raydeval.tasks.base import Context


@dataclass
class RunSettings:
    """How to run (never part of the metrics): Ray address, workers, shard size, device, storage,
    and where finished shard states are kept for `resume`."""

    address: str | None = None  # None: RAY_ADDRESS, else this process or an embedded Ray by size
    workers: int = 0  # 0: one per CPU of the local machine / cluster
    shard_size: int = 0  # 0: automatic
    device: str = "cpu"
    storage_options: dict = field(default_factory=dict)
    progress: bool = True
    state_dir: str | None = None  # None: `<out>.state` when there is an `out`
    resume: bool = False
    keep_state: bool = False


def prepare(task_name: str, gt_uri: str, pred_uri: str, conventions: dict, settings: RunSettings):
    """Task, options, both manifests and the validated joined table (no Ray needed)."""
    task = get_task(task_name)
    options = task.options(**conventions)
    return task, options, *_read_and_join(task, options, gt_uri, pred_uri, settings.storage_options)


def validated_rows(task_name: str, gt_uri: str, pred_uri: str, conventions: dict, settings: RunSettings) -> int:
    """The number of samples once both manifests are checked, joined the way `evaluate` joins them
    (out of core when they are large)."""
    task = get_task(task_name)
    options = task.options(**conventions)
    rows, *_ = _joined_rows(task, options, Context(options, gt_uri, pred_uri, settings.storage_options), settings)
    rows.close()
    return rows.num_rows


def _read_and_join(task, options: dict, gt_uri: str, pred_uri: str, storage_options: dict):
    """Both manifests, read whole, and their validated joined table."""
    gt = read_manifest(gt_uri, storage_options)
    pred = read_manifest(pred_uri, storage_options)
    if gt.rows == 0:
        raise InputError(messages.no_rows(gt.uri))
    return gt, pred, task.prepare(gt, pred, options)


@dataclass
class _Done:
    """What an evaluation computed, however it ran."""

    task: object
    options: dict
    state: State
    inputs: dict
    mode: str
    workers: int
    shards: int
    reused: int = 0
    retried: int = 0
    rows: int = 0
    store: object = None
    analysis: Analysis = field(default_factory=Analysis)  # as prepared (with its score grid)
    join: str = "in-memory"  # how the manifests were joined: in-memory, streamed or counted (out of core)


def evaluate(task_name: str, gt_uri: str, pred_uri: str, conventions: dict | None = None,
             settings: RunSettings | None = None, decode_only: bool = False, out: str | None = None,
             session: RaySession | None = None, analysis: Analysis | None = None) -> dict:
    """The result dict of one evaluation, also written to `out` (a path or URL) when given;
    raises InputError on any input problem. `session` shares one Ray among evaluations; without
    it, a Ray this evaluation starts is stopped when it ends. `analysis` adds breakdowns,
    bootstrap intervals and per-sample rows."""
    settings, analysis = settings or RunSettings(), Analysis() if analysis is None else analysis
    started, clock = datetime.now(timezone.utc), time.monotonic()
    state_dir = _check_outputs(out, settings, analysis, decode_only)
    task = get_task(task_name)
    options = task.options(**(conventions or {}))
    done = None
    if settings.address is None and not analysis and not decode_only:
        done = _out_of_core(task, options, gt_uri, pred_uri, settings)
    if done is None:
        done = _sharded(task, options, gt_uri, pred_uri, settings, decode_only, session, analysis, state_dir)
    result = _result(done.task, done.state, done.options, done.analysis, done.inputs)
    result["run"] = {"raydeval": raydeval.__version__, "started": started.isoformat(timespec="seconds"),
                     "seconds": round(time.monotonic() - clock, 3), "ray": done.mode, "workers": done.workers,
                     "shards": done.shards, "shards_reused": done.reused, "shards_retried": done.retried,
                     "join": done.join, "device": settings.device, "versions": package_versions()}
    if analysis.per_sample:
        result["per_sample"] = {"uri": redact(analysis.per_sample), "rows": done.rows, "parts": done.shards}
    if out:
        try:
            write_atomic(out, to_json(result), settings.storage_options)
        except Exception as e:  # OSError locally; fsspec backends raise assorted errors
            raise InputError(f"--out {out}: cannot write the result: {getattr(e, 'strerror', None) or e}") from None
    if done.store and not settings.keep_state:
        done.store.remove()
    return result


def _out_of_core(task, options: dict, gt_uri: str, pred_uri: str, settings: RunSettings) -> _Done | None:
    """A label job with large manifests, joined and counted out of core (None: not this path)."""
    from raydeval.engine import labels

    if not labels.chosen(task, gt_uri, pred_uri, settings.storage_options):
        return None
    try:
        state, inputs = labels.evaluate_labels(task, options, gt_uri, pred_uri, settings.storage_options)
    except labels.Unreadable:
        return None
    if settings.progress:
        print(f"{task.name}: {state.counts['samples']:,} samples joined and counted out of core", file=sys.stderr)
    return _Done(task, options, state, inputs, "in-process", 1, 1, join="counted")


def _sharded(task, options: dict, gt_uri: str, pred_uri: str, settings: RunSettings, decode_only: bool, session,
             analysis: Analysis, state_dir: str | None) -> _Done:
    """The evaluation of the joined rows' shards: in this process when the job is small and no
    --address is given, else on Ray (--address, else RAY_ADDRESS, else an embedded Ray)."""
    ctx = Context(options, gt_uri, pred_uri, settings.storage_options, settings.device, decode_only, analysis)
    rows, inputs, small, join = _joined_rows(task, options, ctx, settings)
    if settings.progress and join == "streamed":
        print(f"{task.name}: {rows.num_rows:,} rows joined out of core; shards are cut from them as they are "
              "handed out", file=sys.stderr)
    try:
        ctx = dataclasses.replace(ctx, analysis=rows.analysis)
        in_process = settings.address is None and small
        own_session = None if in_process or session else RaySession(ray_address(settings.address), settings.workers)
        with own_session or contextlib.nullcontext():
            if in_process:
                mode, workers, runner = "in-process", 1, in_process_runner(task.name, ctx)
            else:
                mode, workers, runner = _ray_runner(session or own_session, task.name, ctx, settings)
            bounds = shard_bounds(rows.num_rows, workers, settings.shard_size)
            store, reused = None, {}
            if state_dir:
                from raydeval.engine.store import StateStore, ledger_for

                store = StateStore(state_dir, settings.storage_options)
                bounds, reused = store.begin(ledger_for(task.name, options, inputs, ctx.analysis.ledger()), bounds,
                                             settings.resume)
            if ctx.analysis.per_sample:
                per_sample.prepare_folder(ctx.analysis.per_sample, {per_sample.part_name(bounds[i]) for i in reused},
                                          settings.storage_options)
            todo = [i for i in range(len(bounds)) if i not in reused]
            progress = Progress(task.name, rows.num_rows, len(bounds), len(reused),
                                sum(bounds[i][1] - bounds[i][0] for i in reused)) if settings.progress else None
            if progress and not todo:
                print(f"{task.name}: all {len(bounds)} shards reused from {state_dir}", file=sys.stderr)
            state, retried = _evaluate_shards(task, rows, ctx, bounds, todo, runner, progress, store, settings)
    finally:
        rows.close()
    return _Done(task, options, State.merged([state, *reused.values()]), inputs, mode, workers, len(bounds),
                 len(reused), retried, rows.num_rows, store, ctx.analysis, join)


def _joined_rows(task, options: dict, ctx: Context, settings: RunSettings):
    """(joined rows with their prepared `analysis`, the result's inputs, whether the job is small,
    how it was joined): out of core and streamed when the manifests are large (`streamed`), else
    in memory."""
    from raydeval.engine import labels, streamed

    if streamed.chosen(task, ctx.gt_uri, ctx.pred_uri, settings.storage_options):
        try:
            rows = streamed.join(task, options, ctx)
        except labels.Unreadable:  # the in-memory path says what is wrong
            pass
        else:
            return rows, rows.inputs, rows.small, "streamed"
    gt, pred, table = _read_and_join(task, options, ctx.gt_uri, ctx.pred_uri, settings.storage_options)
    table, analysis = prepare_analysis(task, gt, table, ctx.analysis)
    rows = TableRows(table, analysis)
    inputs = {name: {"uri": redact(m.uri), "sha256": m.sha256, "rows": m.rows} for name, m in (("gt", gt), ("pred", pred))}
    return rows, inputs, runs_in_process(task, table, dataclasses.replace(ctx, analysis=analysis)), "in-memory"


def _check_outputs(out: str | None, settings: RunSettings, analysis: Analysis, decode_only: bool) -> str | None:
    """Every destination checked before anything is read; the state folder (None: no states kept)."""
    check_analysis(analysis)
    if out:
        check_destination(out, "--out")
    if analysis.per_sample:
        check_destination(analysis.per_sample.rstrip("/") + "/part.parquet", "--per-sample")
    state_dir = settings.state_dir or (f"{out}.state" if out and not decode_only else None)
    if state_dir:
        check_destination(state_dir + "/ledger.json", "--state-dir")
    elif settings.resume:
        raise InputError("--resume needs --out (states are kept in <out>.state) or --state-dir")
    return state_dir


def _evaluate_shards(task, rows, ctx: Context, bounds, todo, runner, progress, store, settings: RunSettings):
    """The merged state and retried-shard count of the shards `todo`. Bad input leaves nothing
    behind (unless --keep-state); any other failure keeps the finished shards' states for --resume."""
    try:
        try:
            state, problems, retried = evaluate_shards(task.name, rows, ctx, bounds, todo, runner, progress,
                                                       store.save if store else None)
        except BaseException:
            if store:
                store.flush(quietly=True)  # keep what finished; this failure is the one to report
            raise
        if store:
            store.flush()
        problems.raise_if_any()
    except InputError:
        if ctx.analysis.per_sample and not settings.keep_state:
            per_sample.remove_parts(ctx.analysis.per_sample, settings.storage_options)
        if store and not settings.keep_state:
            store.remove()
        elif store:
            print(f"raydeval: the states of the shards without problems are kept in {store.uri}; "
                  "after fixing the inputs, --resume reuses them", file=sys.stderr)
        raise
    except BaseException:  # a failure or an interruption: what finished is kept for --resume
        if store:
            print(f"raydeval: the states of the finished shards are kept in {store.uri}; "
                  "--resume reuses them", file=sys.stderr)
        raise
    return state, retried


def _result(task, state: State, options: dict, analysis: Analysis, inputs: dict) -> dict:
    """The result's content that depends only on the inputs, conventions and analysis."""
    values, notes = task.finalize(state, options)
    result = {"schema": SCHEMA, "task": task.name, "metrics": values, "counts": dict(sorted(state.counts.items()))}
    if analysis.group_by:
        result["breakdown"], more = breakdown(task, state, options, analysis)
        notes += more
    if analysis.bootstrap:
        result["intervals"], more = intervals(task, state.replicates, options, analysis)
        notes += more
    result.update(notes=notes, conventions={**options, **analysis.conventions()}, inputs=inputs)
    summary = score_summary(state.scores) if task.score_curves else None
    if summary:
        result["scores"] = summary
    return result


def _ray_runner(session: RaySession, task_name: str, ctx: Context, settings: RunSettings):
    """(mode, workers, runner) on the session's Ray."""
    import ray

    from raydeval.engine.ray_tasks import ray_runner

    mode = session.start()
    resources = ray.cluster_resources()
    workers = settings.workers or int(resources.get("CPU", 0) or 1)
    gpus = float(resources.get("GPU", 0))
    if settings.device == "gpu" and not gpus:
        raise InputError("--device gpu: the Ray cluster has no GPU (use --device auto to fall back to NumPy)")
    # shards get a share of the GPUs (Ray hides GPUs from tasks that reserve none)
    share = gpus / workers if settings.device in ("gpu", "auto") and gpus else 0.0
    return mode, workers, ray_runner(task_name, ctx, workers, share)
