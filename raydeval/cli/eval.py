"""`raydeval eval`: evaluate a submission against a GT manifest."""

from __future__ import annotations

import sys

from raydeval.cli import common
from raydeval.io.result import format_table, to_json


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a submission against a GT manifest")
    common.add_inputs(p)
    common.add_run_options(p)
    p.add_argument("--out", help="result file (JSON, written atomically)")
    p.add_argument("--json", action="store_true", help="print the result JSON to stdout instead of a table")
    p.add_argument("--state-dir", help="where finished shard states are kept (default: <out>.state; path or URL)")
    p.add_argument("--resume", action="store_true", help="reuse the shard states of an earlier, unfinished run")
    p.add_argument("--keep-state", action="store_true", help="keep the shard states after a successful run")
    p.add_argument("--group-by", action="append", default=[], metavar="COL",
                   help="every metric per value of this GT metadata column (repeatable)")
    p.add_argument("--shared-negatives", action="store_true",
                   help="with --group-by: score each group's fake samples together with all real samples")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="percentile intervals from N bootstrap replicates (resampling samples)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws (default 0)")
    p.add_argument("--per-sample", metavar="DIR", help="write one row per sample as a Parquet dataset (folder or URL)")
    p.set_defaults(run=run)


def run(args) -> int:
    from raydeval.analysis import Analysis
    from raydeval.evaluate import evaluate

    settings = common.settings(args)
    settings.state_dir, settings.resume, settings.keep_state = args.state_dir, args.resume, args.keep_state
    analysis = Analysis(tuple(args.group_by), args.shared_negatives, args.bootstrap, args.seed, args.per_sample)
    result = evaluate(args.task, args.gt, args.pred, common.conventions(args), settings, out=args.out,
                      analysis=analysis)
    if args.out:
        print(f"raydeval: wrote {args.out}", file=sys.stderr)
    if args.json:
        sys.stdout.write(to_json(result))
    else:
        print(format_table([result]))
    return common.EXIT_OK
