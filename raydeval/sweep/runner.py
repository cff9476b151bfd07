"""Running a sweep: each job hashed, skipped or evaluated, compared with its previous result."""

from __future__ import annotations

import json
import sys
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import raydeval
from raydeval.errors import InputError, first_line
from raydeval.io.hashing import sha256_of
from raydeval.io.result import redact
from raydeval.sweep.compare import Change, compare, exit_status, should_skip
from raydeval.sweep.config import Job, Sweep
from raydeval.sweep.store import History

SUMMARY_SCHEMA = "raydeval.sweep/1"


@dataclass
class Outcome:
    """What one job of a sweep run did: its history row and the metrics that moved."""

    row: dict
    changes: list[Change] = field(default_factory=list)


def ray_connection(address: str | None):
    """The one Ray session that every job of a sweep needing Ray shares: joined or started when
    the first such job runs (small jobs run in this process), stopped at the end."""
    from raydeval.engine.session import RaySession, ray_address

    return RaySession(ray_address(address))


def select(jobs: tuple[Job, ...], only: list[str]) -> list[Job]:
    """The jobs named in `only` (all when empty), in file order."""
    unknown = sorted(set(only) - {job.name for job in jobs})
    if unknown:
        raise InputError(f"--only: no job named {', '.join(map(repr, unknown))} "
                         f"(jobs: {', '.join(job.name for job in jobs)})")
    return [job for job in jobs if not only or job.name in only]


def run_sweep(sweep: Sweep, history: History, only: list[str] = (), force: bool = False,
              address: str | None = None, workers: int | None = None,
              progress: bool = True) -> tuple[dict, list[dict]]:
    """Run the selected jobs one after another: the run's summary and its history rows (not yet stored)."""
    jobs = select(sweep.jobs, list(only))
    previous = history.latest_results()
    started = datetime.now(timezone.utc)
    sweep_run = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex}"
    clock = time.monotonic()
    outcomes = []
    with ray_connection(address) as session:
        for number, job in enumerate(jobs, 1):
            outcome = run_job(job, previous.get(job.name), force, address, workers, progress, session)
            outcome.row["sweep_run"] = sweep_run
            outcomes.append(outcome)
            if progress:
                print(f"raydeval sweep: [{number}/{len(jobs)}] {job.name}: {outcome.row['status']} "
                      f"({outcome.row['seconds']:.2f} s)", file=sys.stderr)
    summary = {
        "schema": SUMMARY_SCHEMA,
        "sweep_run": sweep_run,
        "date": f"{started:%Y-%m-%d}",
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - clock, 3),
        "sweep_file": sweep.path,
        "history": redact(history.uri),
        "exit_status": exit_status(o.row["status"] for o in outcomes),
        "jobs": [summary_entry(o) for o in outcomes],
    }
    return summary, [o.row for o in outcomes]


def run_job(job: Job, previous: dict | None, force: bool, address: str | None, workers: int | None,
            progress: bool, session=None) -> Outcome:
    """Hash the inputs, then skip (same fingerprint as `previous`) or evaluate and compare."""
    from raydeval.analysis import Analysis
    from raydeval.evaluate import RunSettings, evaluate

    row = {"time": datetime.now(timezone.utc), "job": job.name, "task": job.task, "status": "skipped",
           "gt_uri": redact(job.gt), "pred_uri": redact(job.pred), "raydeval": raydeval.__version__,
           "conventions": json.dumps({**job.options, **Analysis(group_by=job.group_by).conventions()},
                                     sort_keys=True)}
    clock = time.monotonic()
    outcome = Outcome(row)
    try:
        row["gt_sha256"] = sha256_of(job.gt, job.storage_options)
        row["pred_sha256"] = sha256_of(job.pred, job.storage_options)
        if not force and should_skip(previous, row):
            row.update({key: previous[key] for key in ("metrics", "metrics_json", "counts", "breakdown", "notes")})
        else:
            settings = RunSettings(address=address, workers=job.workers if workers is None else workers,
                                   storage_options=job.storage_options, progress=progress)
            result = evaluate(job.task, job.gt, job.pred, job.conventions, settings, session=session,
                              analysis=Analysis(group_by=job.group_by))
            if previous is not None:
                outcome.changes = compare(json.loads(previous["metrics_json"]), result["metrics"], job.tolerance)
            row.update(result_fields(result))
            row["status"] = "regression" if any(c.regression for c in outcome.changes) else "ok"
    except InputError as e:
        row.update(status="bad-input", error=str(e))
        print(f"raydeval sweep: {job.name}: bad input: {e}", file=sys.stderr)
    except Exception as e:  # one crashing job must not stop the others
        traceback.print_exc()
        row.update(status="crashed", error=f"{type(e).__name__}: {first_line(e)}")
    row["seconds"] = round(time.monotonic() - clock, 3)
    return outcome


def result_fields(result: dict) -> dict:
    """The history columns taken from a result dict (schema raydeval.result/1)."""
    metrics = result["metrics"]
    return {
        "gt_sha256": result["inputs"]["gt"]["sha256"],
        "pred_sha256": result["inputs"]["pred"]["sha256"],
        "conventions": json.dumps(result["conventions"], sort_keys=True),
        "metrics": list(metrics.items()),
        "metrics_json": json.dumps(metrics, allow_nan=False),
        "counts": json.dumps(result["counts"]),
        "breakdown": json.dumps(result.get("breakdown", {}), allow_nan=False),
        "notes": json.dumps(result["notes"]),
    }


def summary_entry(outcome: Outcome) -> dict:
    row = outcome.row
    return {"job": row["job"], "task": row["task"], "status": row["status"], "seconds": row["seconds"],
            "metrics": json.loads(row["metrics_json"]) if row.get("metrics_json") else None,
            "changes": [asdict(c) for c in outcome.changes], "error": row.get("error")}
