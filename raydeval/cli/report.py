"""`raydeval report`: one self-contained HTML page from result files."""

from __future__ import annotations

import os

from raydeval.cli import common


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="an HTML report (tables, charts, comparison) of result files")
    p.add_argument("results", nargs="+", metavar="RESULT", help="result JSON files (the first is the baseline)")
    p.add_argument("-o", "--out", required=True, help="HTML file to write (path or URL)")
    p.add_argument("--per-sample", metavar="FILE", help="per-sample Parquet file or folder of the first result "
                                                        "(default: each result's recorded one, where it is here)")
    p.set_defaults(run=run)


def run(args) -> int:
    from raydeval.report import load_result, write_report

    results = [load_result(uri) for uri in args.results]
    labels = [f"#{i + 1} {os.path.basename(uri.rstrip('/'))}" for i, uri in enumerate(args.results)]
    print(write_report(results, args.out, args.per_sample, labels))
    return common.EXIT_OK
