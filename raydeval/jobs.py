"""raydeval commands as Ray jobs: submitted through Ray's Jobs API (`JobSubmissionClient`),
followed, listed and stopped.

A job runs `python -m raydeval ...` on the cluster with this installation's raydeval source as
a `py_modules` runtime env: Ray uploads it with the job, so the cluster runs the submitter's
exact code without a package index (its nodes need raydeval's dependencies, e.g. the image of
cluster/Dockerfile). Inside the job `raydeval eval` joins the job's cluster (Ray sets
RAY_ADDRESS for the job's driver).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
import time

from raydeval.errors import InputError, first_line

COMMANDS = ("eval", "validate", "sweep")
SECRET_KEYS = re.compile(r"key|secret|token|passw|credential|connection_string|sas|signature", re.IGNORECASE)
POLL_SECONDS = 1.0


def dashboard_address(given: str | None) -> str:
    """`--address`, else RAY_API_SERVER_ADDRESS, else RAY_ADDRESS (as Ray's job CLI reads them)."""
    address = given or os.environ.get("RAY_API_SERVER_ADDRESS") or os.environ.get("RAY_ADDRESS")
    if not address:
        raise InputError("no Ray head given: pass --address http://HEAD:8265 (the head's dashboard) "
                         "or set RAY_ADDRESS")
    return address


def connect(address: str):
    """A JobSubmissionClient of the head at `address`; an unreachable head or a refused token is
    an InputError of one line."""
    import logging

    from ray.job_submission import JobSubmissionClient

    for name in [n for n in logging.root.manager.loggerDict if n == "ray" or n.startswith("ray.")]:
        logging.getLogger(name).setLevel(logging.WARNING)  # no INFO lines about uploads and sockets
    try:
        return JobSubmissionClient(address)
    except Exception as e:  # connection, HTTP, authentication and version errors of assorted types
        raise InputError(f"cannot use the Ray head at {address}: {first_line(e)}") from None


def check_command(argv: list[str]) -> None:
    """A raydeval command that can run as a job: known, parseable here, and carrying no
    credential (a job's entrypoint is visible to everyone who lists the cluster's jobs)."""
    from raydeval.cli import build_parser
    from raydeval.io.result import redact

    if not argv or argv[0] not in COMMANDS:
        raise InputError(f"submit runs one of: {', '.join(COMMANDS)} (e.g. raydeval submit --address URL -- "
                         f"eval TASK --gt ... --pred ... --out s3://...), got {' '.join(argv) or 'nothing'}")
    args = build_parser().parse_args(argv)  # usage errors now, not on the cluster (and abbreviations resolved)
    secret = [key for key, _ in getattr(args, "storage_option", []) if SECRET_KEYS.search(key)]
    secret += [value for value in argv if "://" in value and redact(value) != value]  # user:password@host
    if secret:
        raise InputError(f"{secret[0].split('://')[0] + '://…' if '://' in secret[0] else secret[0] + '=…'}: "
                         "a credential in a job's command line is visible to anyone who lists the cluster's "
                         "jobs; give the cluster its credentials through its environment instead "
                         "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY on the nodes, a Kubernetes Secret)")


def runtime_env() -> dict:
    """This installation's raydeval source, uploaded with the job."""
    import raydeval

    return {"py_modules": [os.path.dirname(os.path.abspath(raydeval.__file__))],
            "excludes": ["__pycache__", "*.pyc"]}


def submit(client, argv: list[str]) -> str:
    """Submit `python -m raydeval ARGV` (checked by `check_command`) as a job; its submission id."""
    try:
        return client.submit_job(entrypoint=f"python -m raydeval {shlex.join(argv)}", runtime_env=runtime_env())
    except Exception as e:  # HTTP and runtime-env errors of assorted types
        raise InputError(f"the Ray head refused the job: {first_line(e)}") from None


def exit_status(info) -> int:
    """The job's own exit status: 0 when it succeeded, its driver's exit code, else the code named
    in its message; 1 when unknown (e.g. stopped)."""
    if str(info.status) == "SUCCEEDED":
        return 0
    if info.driver_exit_code is not None:
        return int(info.driver_exit_code)
    found = re.search(r"exit code (\d+)", info.message or "")
    return int(found.group(1)) if found else 1


def follow(client, job_id: str, stream: bool = True) -> int:
    """Wait for the job to end (streaming its logs to stdout); its exit status."""
    if stream:
        try:
            asyncio.run(_stream(client, job_id))
        except Exception as e:  # the log stream broke off: keep waiting by polling
            print(f"raydeval: log stream of {job_id} ended ({first_line(e)}); waiting for the job",
                  file=sys.stderr)
    while not client.get_job_status(job_id).is_terminal():
        time.sleep(POLL_SECONDS)
    info = client.get_job_info(job_id)
    status = exit_status(info)
    if status and not stream:
        sys.stdout.write(client.get_job_logs(job_id))
    print(f"raydeval: job {job_id} {info.status}" + (f" (exit status {status})" if status else ""),
          file=sys.stderr)
    return status


async def _stream(client, job_id: str) -> None:
    async for chunk in client.tail_job_logs(job_id):
        sys.stdout.write(chunk)
        sys.stdout.flush()
