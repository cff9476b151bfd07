"""`raydeval submit`: run a raydeval command on a Ray cluster through its Jobs API."""

from __future__ import annotations

import argparse
import sys

from raydeval.cli import common


def add_parser(sub) -> None:
    p = sub.add_parser("submit", help="run `eval`, `validate` or `sweep` as a job on a Ray cluster",
                       description="Submit a raydeval command to a Ray cluster's Jobs API, e.g. "
                                   "raydeval submit --address http://HEAD:8265 --wait -- eval TASK ...")
    p.add_argument("--address", help="the head's dashboard, http://HEAD:8265 (default: RAY_ADDRESS)")
    p.add_argument("--wait", action="store_true", help="wait for the job and exit with its exit status")
    p.add_argument("--no-stream", action="store_true", help="with --wait: do not stream the job's logs")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the raydeval command to run")
    p.set_defaults(run=run)


def run(args) -> int:
    from raydeval import jobs

    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    jobs.check_command(argv)
    client = jobs.connect(jobs.dashboard_address(args.address))
    job_id = jobs.submit(client, argv)
    if not args.wait:
        print(job_id)
        return common.EXIT_OK
    print(f"raydeval: submitted {job_id}", file=sys.stderr)
    return jobs.follow(client, job_id, stream=not args.no_stream)
