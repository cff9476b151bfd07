"""`raydeval demo`: a small synthetic benchmark and submission, evaluated."""

from __future__ import annotations

from raydeval.cli import common


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="generate a small synthetic benchmark and submission, evaluate them")
    p.add_argument("--samples", type=int, default=120, help="samples per task (default 120)")
    p.add_argument("--out", help="directory for the benchmark and results (default: a temporary one)")
    p.add_argument("--workers", type=int, default=0, help="shards evaluated at once (default: one per CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)


def run(args) -> int:
    from raydeval.demo import run_demo

    run_demo(args.out, args.samples, args.workers, args.seed)
    return common.EXIT_OK
