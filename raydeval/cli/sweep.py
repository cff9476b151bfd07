"""`raydeval sweep`: run the jobs of a sweep file, append them to the history, report regressions."""

from __future__ import annotations

import json
import sys

from raydeval.errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="run the jobs of a sweep file (TOML), append to the history, report regressions")
    p.add_argument("file", help="sweep file (TOML, see jobs/)")
    p.add_argument("--history", help="history dataset, local path or URL (default: [defaults].history)")
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this job (repeatable)")
    p.add_argument("--force", action="store_true", help="evaluate jobs whose inputs and conventions are unchanged")
    p.add_argument("--address", help="Ray cluster to join (ray://host:10001 or auto); default: embedded local Ray")
    p.add_argument("--workers", type=int, help="shards evaluated at once, for every job (default: each job's)")
    p.add_argument("--summary", metavar="FILE", help="also write the run's summary JSON here (path or URL)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(run=run)


def run(args) -> int:
    from raydeval.io.fs import write_atomic
    from raydeval.sweep.config import load_sweep
    from raydeval.sweep.report import format_summary
    from raydeval.sweep.runner import run_sweep
    from raydeval.sweep.store import History

    if args.workers is not None and args.workers < 0:
        raise InputError("--workers must be positive")
    sweep = load_sweep(args.file)
    if not (args.history or sweep.history):
        raise InputError(f"{args.file}: no history: give --history URI or set `history` in [defaults]")
    history = History(args.history or sweep.history, sweep.history_storage_options)
    summary, rows = run_sweep(sweep, history, args.only, args.force, args.address, args.workers, not args.quiet)
    print(format_summary(summary))
    history.append(summary["sweep_run"], summary["date"], rows)
    text = json.dumps(summary, indent=2, allow_nan=False) + "\n"
    written = [history.write_summary(summary["sweep_run"], text)]
    if args.summary:
        write_atomic(args.summary, text.encode())
        written.append(args.summary)
    print(f"raydeval sweep: summary in {', '.join(written)}", file=sys.stderr)
    return summary["exit_status"]
