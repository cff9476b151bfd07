"""`raydeval history`: a job's metric history from the sweep history dataset."""

from __future__ import annotations

from raydeval.cli import common
from raydeval.errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("history", help="metric history of sweep jobs (time, status, value per metric)")
    p.add_argument("--history", help="history dataset, local path or URL (default: the sweep file's)")
    p.add_argument("--sweep", metavar="FILE", help="sweep file whose [defaults] give the history and its storage")
    p.add_argument("--job", help="only this job (default: every job)")
    p.add_argument("--metric", action="append", default=[], metavar="M", help="only this metric (repeatable)")
    p.add_argument("--storage-option", action="append", type=common.storage_option, default=[],
                   metavar="KEY=VALUE", help="fsspec storage option for the history (repeatable)")
    p.set_defaults(run=run)


def run(args) -> int:
    from raydeval.sweep.config import load_sweep
    from raydeval.sweep.report import format_history
    from raydeval.sweep.store import History

    uri, options = args.history, {}
    if args.sweep:
        sweep = load_sweep(args.sweep)
        uri, options = uri or sweep.history, dict(sweep.history_storage_options)
    if not uri:
        raise InputError("no history: give --history URI, or --sweep FILE whose [defaults] set `history`")
    options.update(args.storage_option)
    print(format_history(History(uri, options).read().to_pylist(), args.job, args.metric))
    return common.EXIT_OK
