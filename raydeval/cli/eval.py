"""`raydeval eval`: evaluate a submission against a GT manifest."""

from __future__ import annotations

import os
import sys

from raydeval.cli import common
from raydeval.errors import InputError
from raydeval.io.result import format_table, to_json, write_atomic


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a submission against a GT manifest")
    common.add_inputs(p)
    common.add_run_options(p)
    p.add_argument("--out", help="result file (JSON, written atomically)")
    p.add_argument("--json", action="store_true", help="print the result JSON to stdout instead of a table")
    p.set_defaults(run=run)


def run(args) -> int:
    from raydeval.evaluate import evaluate

    if args.out and os.path.isdir(args.out):
        raise InputError(f"--out {args.out} is a directory; give a file name such as result.json")
    result = evaluate(args.task, args.gt, args.pred, common.conventions(args), common.settings(args))
    if args.out:
        try:
            write_atomic(args.out, to_json(result))
        except OSError as e:
            raise InputError(f"--out {args.out}: cannot write the result: {e.strerror or e}") from None
        print(f"raydeval: wrote {args.out}", file=sys.stderr)
    if args.json:
        sys.stdout.write(to_json(result))
    else:
        print(format_table([result]))
    return common.EXIT_OK
