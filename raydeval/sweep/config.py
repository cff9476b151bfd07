"""Sweep files (TOML): every key checked before anything runs.

Errors are InputErrors naming the file, the job and the key. Relative local paths (`gt`, `pred`,
`history`) are resolved against the sweep file's directory.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from raydeval.cli.common import CONVENTIONS as CONVENTION_KEYS  # what a job's `conventions` may hold
from raydeval.errors import InputError
from raydeval.sweep.compare import is_number

JOB_KEYS = ("name", "task", "gt", "pred", "conventions", "group_by", "tolerance", "workers", "storage_options")
REQUIRED = ("name", "task", "gt", "pred")
DEFAULT_KEYS = (*JOB_KEYS[1:], "history", "history_storage_options")  # every job key but `name`
MERGED_TABLES = ("conventions", "storage_options", "tolerance")  # merged key by key with [defaults]
CREDENTIAL = re.compile(r"secret|token|passw|credential|connection_string|(^|[_-])key([_-]|$)|key$", re.IGNORECASE)


@dataclass(frozen=True)
class Job:
    """One evaluation of a sweep, validated."""

    name: str
    task: str
    gt: str
    pred: str
    conventions: dict  # as given, for evaluate() (weights as exact fractions)
    options: dict  # the task's filled-in conventions: what results record
    tolerance: dict  # metric -> largest allowed drop; "default" for the others
    workers: int = 0
    storage_options: dict = field(default_factory=dict, repr=False)  # resolved; may hold secrets
    group_by: tuple[str, ...] = ()  # GT metadata columns of the result's breakdown


@dataclass(frozen=True)
class Sweep:
    path: str
    history: str | None
    history_storage_options: dict = field(repr=False)
    jobs: tuple[Job, ...]


def load_sweep(path: str) -> Sweep:
    """Read and validate a sweep file; one InputError listing every problem found."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read the sweep file: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a valid TOML file: {e}") from None
    base = os.path.dirname(os.path.abspath(path))
    check_keys(data, ("defaults", "job"), f"{path}: top level")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InputError(f"{path}: `defaults` must be a table ([defaults])")
    check_keys(defaults, DEFAULT_KEYS, f"{path}: [defaults]")
    raw_jobs = data.get("job", [])
    if not isinstance(raw_jobs, list) or not raw_jobs:
        raise InputError(f"{path}: no jobs: add [[job]] entries")
    history = defaults.get("history")
    if history is not None and not (isinstance(history, str) and history):
        raise InputError(f"{path}: [defaults]: key `history`: expected a path or URL")
    errors, jobs, seen = [], [], {}
    for number, raw in enumerate(raw_jobs, 1):
        name = raw.get("name") if isinstance(raw, dict) else None
        where = f"{path}: job {name!r}" if isinstance(name, str) else f"{path}: job #{number}"
        try:
            if isinstance(name, str) and seen.setdefault(name, number) != number:
                raise InputError(f"{where}: key `name`: duplicate (job #{seen[name]} has the same name)")
            jobs.append(parse_job(raw, defaults, base, where))
        except InputError as e:
            errors.append(str(e))
    try:
        history_options = storage_options(defaults.get("history_storage_options", {}),
                                          f"{path}: [defaults]", "history_storage_options")
    except InputError as e:
        errors.append(str(e))
    if errors:
        raise InputError("\n".join(errors))
    return Sweep(path, history and locate(history, base), history_options, tuple(jobs))


def check_keys(table: dict, allowed, where: str) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        hints = [f"`{k}`" + "".join(f" (did you mean `{m}`?)" for m in difflib.get_close_matches(k, allowed, 1))
                 for k in unknown]
        raise InputError(f"{where}: unknown key(s) {', '.join(hints)}; allowed: {', '.join(allowed)}")


def merged(defaults: dict, raw: dict) -> dict:
    """A job's keys over [defaults]: tables merge key by key, other values are replaced."""
    out: dict = {}
    for source in (defaults, raw):
        for key, value in source.items():
            if key == "tolerance" and not isinstance(value, dict):
                value = {"default": value}
            if key in MERGED_TABLES and isinstance(value, dict) and isinstance(out.get(key), dict):
                value = {**out[key], **value}
            out[key] = value
    return {k: v for k, v in out.items() if k in JOB_KEYS}


def parse_job(raw, defaults: dict, base: str, where: str) -> Job:
    """One [[job]] table (with its defaults) as a Job; InputError naming the key otherwise."""
    from raydeval.tasks import get_task

    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a table ([[job]])")
    check_keys(raw, JOB_KEYS, where)
    job = merged(defaults, raw)
    missing = [f"`{k}`" for k in REQUIRED if k not in job]
    if missing:
        raise InputError(f"{where}: missing required key(s) {', '.join(missing)}")
    for key in REQUIRED:
        if not isinstance(job[key], str) or not job[key]:
            raise InputError(f"{where}: key `{key}`: expected a non-empty string, got {job[key]!r}")
    group_by = job.get("group_by", [])
    if not isinstance(group_by, list) or not all(isinstance(c, str) for c in group_by):
        raise InputError(f"{where}: key `group_by`: expected a list of GT column names")
    try:
        task = get_task(job["task"])
    except InputError as e:
        raise InputError(f"{where}: key `task`: {e}") from None
    given = conventions(job.get("conventions", {}), where)
    try:
        options = task.options(**given)
    except InputError as e:
        raise InputError(f"{where}: key `conventions`: {e}") from None
    workers = job.get("workers", 0)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise InputError(f"{where}: key `workers`: expected an integer ≥ 0 (0: one per CPU), got {workers!r}")
    return Job(name=job["name"], task=task.name, gt=existing(job["gt"], base, where, "gt"),
               pred=existing(job["pred"], base, where, "pred"), conventions=given, options=options,
               tolerance=tolerance(job.get("tolerance", {}), metric_names(task), where), workers=workers,
               storage_options=storage_options(job.get("storage_options", {}), where), group_by=tuple(group_by))


def conventions(table, where: str) -> dict:
    """The `conventions` table as the CLI passes them (weights checked like `--weights`)."""
    from raydeval.cli.common import weights

    if not isinstance(table, dict):
        raise InputError(f"{where}: key `conventions`: expected a table")
    check_keys(table, CONVENTION_KEYS, f"{where}: key `conventions`")
    out = dict(table)
    if "weights" in out:
        values = out["weights"]
        if not isinstance(values, list) or not all(isinstance(v, str) or is_number(v) for v in values):
            raise InputError(f"{where}: key `conventions.weights`: expected a list of decimals, e.g. [0.6, 0.2, 0.2]")
        text = ",".join(v if isinstance(v, str) else format(Decimal(repr(v)), "f") for v in values)
        try:
            out["weights"] = weights(text)
        except argparse.ArgumentTypeError as e:
            raise InputError(f"{where}: key `conventions.weights`: {e}") from None
    pixels = out.get("max_pixels", 1)
    if not isinstance(pixels, int) or isinstance(pixels, bool) or pixels <= 0:
        raise InputError(f"{where}: key `conventions.max_pixels`: expected a positive integer")
    return out


def metric_names(task) -> tuple[str, ...]:
    """Every metric the task can report."""
    return (*task.headline, "score", *task.extras) if task.headline else task.extras


def tolerance(table: dict, metrics, where: str) -> dict:
    """{metric or "default": largest allowed drop}, every value a finite number ≥ 0."""
    check_keys(table, ("default", *metrics), f"{where}: key `tolerance`")
    for metric, value in table.items():
        if not is_number(value) or not math.isfinite(value) or value < 0:
            raise InputError(f"{where}: key `tolerance`: {metric} must be a number ≥ 0, got {value!r}")
    return {metric: float(value) for metric, value in table.items()}


def locate(uri: str, base: str) -> str:
    """A URL as given; a local path made absolute against `base` (the sweep file's directory)."""
    return uri if "://" in uri else os.path.normpath(os.path.join(base, uri))


def existing(uri: str, base: str, where: str, key: str) -> str:
    """`locate`, and a local file must exist (URLs are checked when read)."""
    uri = locate(uri, base)
    local = uri[len("file://"):] if uri.startswith("file://") else None if "://" in uri else uri
    if local is not None and not os.path.isfile(local):
        raise InputError(f"{where}: key `{key}`: no such file: {local}")
    return uri


def storage_options(table, where: str, key: str = "storage_options") -> dict:
    """fsspec storage options with `{env = "NAME"}` values read from the environment.

    A key that looks like a credential (key, secret, token, password, ...) must be given that way.
    """
    if not isinstance(table, dict):
        raise InputError(f"{where}: key `{key}`: expected a table")
    out = {}
    for name, value in table.items():
        path = f"{key}.{name}"
        if isinstance(value, dict) and set(value) == {"env"}:
            variable = value["env"]
            if not isinstance(variable, str):
                raise InputError(f"{where}: key `{path}`: expected {{env = \"NAME\"}}, NAME a string")
            if not os.environ.get(variable):
                raise InputError(f"{where}: key `{path}`: environment variable {variable} is not set")
            out[name] = os.environ[variable]
        elif isinstance(value, dict):
            out[name] = storage_options(value, where, path)
        elif CREDENTIAL.search(name):
            raise InputError(f"{where}: key `{path}` is a credential: give the name of an environment "
                             f"variable instead of the value, e.g. {name} = {{env = \"MY_{name.upper()}\"}}")
        else:
            out[name] = value
    return out
