"""`raydeval jobs list|status|logs|stop`: the rest of a submitted job's life."""

from __future__ import annotations

import sys

from raydeval.cli import common


def add_parser(sub) -> None:
    p = sub.add_parser("jobs", help="list, inspect, follow or stop jobs on a Ray cluster")
    actions = p.add_subparsers(dest="action", required=True, parser_class=common.Parser)
    for action, text in (("list", "every job of the cluster"), ("status", "a job's status and exit status"),
                         ("logs", "a job's logs"), ("stop", "stop a running job")):
        q = actions.add_parser(action, help=text)
        if action != "list":
            q.add_argument("job", help="submission id (as `raydeval submit` printed it)")
        if action == "logs":
            q.add_argument("--follow", action="store_true", help="stream until the job ends; exit with its status")
        q.add_argument("--address", help="the head's dashboard, http://HEAD:8265 (default: RAY_ADDRESS)")
    p.set_defaults(run=run)


def run(args) -> int:
    from raydeval import jobs

    client = jobs.connect(jobs.dashboard_address(args.address))
    if args.action == "list":
        for info in sorted(client.list_jobs(), key=lambda i: i.start_time or 0):
            print(f"{info.submission_id or info.job_id}  {info.status!s:<9}  {info.entrypoint}")
        return common.EXIT_OK
    info = _info(client, args.job)
    if args.action == "status":
        code = jobs.exit_status(info) if info.status.is_terminal() else None
        print(f"{args.job}: {info.status}" + (f", exit status {code}" if code is not None else "")
              + (f" — {info.message.splitlines()[0].split(', last available logs')[0]}" if info.message else ""))
    elif args.action == "logs":
        if args.follow:
            return jobs.follow(client, args.job)
        sys.stdout.write(client.get_job_logs(args.job))
    else:
        stopped = client.stop_job(args.job)
        print(f"{args.job}: {'stop requested' if stopped else 'not running (' + str(info.status) + ')'}")
    return common.EXIT_OK


def _info(client, job: str):
    from raydeval.errors import InputError, first_line

    try:
        return client.get_job_info(job)
    except Exception as e:  # the SDK raises RuntimeError for an unknown id
        raise InputError(f"no job {job} on this cluster ({first_line(e)})") from None
