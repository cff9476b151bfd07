"""Text tables: a sweep run's summary and a job's metric history."""

from __future__ import annotations

from raydeval.errors import InputError

EXIT_MEANING = {0: "all ok", 1: "a job crashed", 2: "a job had bad input", 3: "regression"}


def format_summary(summary: dict) -> str:
    """One line per job (job, status, seconds) and one per moved metric (old → new) or error."""
    rows = []
    for job in summary["jobs"]:
        details = [f"{c['metric']} {value(c['old'], repr)} → {value(c['new'], repr)}"
                   + ("  REGRESSION" if c["regression"] else "") for c in job["changes"]]
        if job["error"]:
            details = [job["error"].splitlines()[0]]
        first, *more = details or [""]
        rows.append((job["job"], job["status"], f"{job['seconds']:.2f}", first))
        rows.extend(("", "", "", line) for line in more)
    counts = {}
    for job in summary["jobs"]:
        counts[job["status"]] = counts.get(job["status"], 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in counts.items())
    code = summary["exit_status"]
    return (table(("job", "status", "seconds", "changes"), rows)
            + f"\nsweep {summary['sweep_run']}: {tally}; exit status {code} ({EXIT_MEANING[code]})")


def format_history(rows: list[dict], job: str | None = None, metrics: list[str] = ()) -> str:
    """Per job, its rows in time order: time, status and the value of each metric."""
    if not rows:
        raise InputError("the history has no rows yet")
    jobs = sorted({row["job"] for row in rows})
    if job is not None and job not in jobs:
        raise InputError(f"no job {job!r} in the history (jobs: {', '.join(jobs)})")
    recorded = {name: list(dict.fromkeys(m for row in rows if row["job"] == name for m, _ in row["metrics"] or []))
                for name in ([job] if job else jobs)}
    unknown = [m for m in metrics if not any(m in names for names in recorded.values())]
    if unknown:
        raise InputError(f"no value of metric(s) {', '.join(unknown)} in the history of "
                         f"{job or 'any job'}")
    blocks = []
    for name, names in recorded.items():
        columns = [m for m in metrics if m in names] if metrics else names
        if not columns and metrics:
            continue
        lines = []
        for row in sorted((r for r in rows if r["job"] == name), key=lambda r: r["time"]):
            values = dict(row["metrics"] or [])
            lines.append((f"{row['time']:%Y-%m-%d %H:%M:%S}", row["status"],
                          *(value(values.get(m), lambda v: f"{v:.6f}") for m in columns)))
        blocks.append(f"{name}\n" + table(("time (UTC)", "status", *columns), lines, indent="  "))
    return "\n\n".join(blocks)


def value(number: float | None, fmt) -> str:
    return "-" if number is None else fmt(number)


def table(header: tuple, rows: list[tuple], indent: str = "") -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return "\n".join(indent + "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths)).rstrip()
                     for line in (header, *rows))
