"""HTML reports of result files (SPEC §3.3): one self-contained page, charts as inline SVG.

matplotlib and Jinja2 are imported only when a report is made (`pip install 'raydeval[report]'`).
"""

from __future__ import annotations

import json
import os

from raydeval.errors import InputError
from raydeval.io.result import SCHEMA, write_atomic

SECTIONS = {"metrics": dict, "counts": dict, "conventions": dict, "inputs": dict, "run": dict,
            "notes": list, "breakdown": dict, "intervals": dict, "scores": dict, "per_sample": dict}


def load_result(uri: str) -> dict:
    """A result file (local path or URL), checked; InputError naming the file otherwise."""
    from raydeval.io import fs

    try:
        filesystem, path = fs.filesystem(uri, {})
        with filesystem.open(path, "rb") as f:
            result = json.loads(f.read())
    except FileNotFoundError:
        raise InputError(f"{uri}: no such result file") from None
    except (OSError, ValueError) as e:  # unreadable, not UTF-8, not JSON
        raise InputError(f"{uri}: cannot read it as a result file ({e})") from None
    check_result(result, uri)
    return result


def check_result(result, name: str) -> None:
    """The parts of a `raydeval.result/1` document that the report relies on."""
    if not isinstance(result, dict) or result.get("schema") != SCHEMA:
        found = result.get("schema") if isinstance(result, dict) else type(result).__name__
        raise InputError(f"{name}: not a raydeval result (schema {found!r}, expected {SCHEMA!r})")
    if not isinstance(result.get("task"), str):
        raise InputError(f"{name}: `task` must be a string")
    for key, kind in SECTIONS.items():
        required = key in ("metrics", "conventions", "run")
        if (required or result.get(key) is not None) and not isinstance(result.get(key), kind):
            raise InputError(f"{name}: `{key}` must be a JSON {'object' if kind is dict else 'array'}")
    _check_metrics(result["metrics"], name, "metrics")
    for column, cells in (result.get("breakdown") or {}).items():
        if not (isinstance(cells, dict) and all(isinstance(c, dict) and isinstance(c.get("metrics", {}), dict)
                                                for c in cells.values())):
            raise InputError(f"{name}: breakdown `{column}`: each group must be an object with `metrics`")
        for group, cell in cells.items():
            _check_metrics(cell.get("metrics", {}), name, f"breakdown `{column}` group {group!r}")
    scores = result.get("scores")
    if scores and not (len(scores.get("score", [])) == len(scores.get("pos", [])) == len(scores.get("neg", []))
                       and all(is_number(v) for k in ("score", "pos", "neg") for v in scores[k])):
        raise InputError(f"{name}: `scores` needs arrays `score`, `pos` and `neg` of numbers, of one length")


def _check_metrics(metrics: dict, name: str, where: str) -> None:
    bad = [m for m, v in metrics.items() if v is not None and not is_number(v)]
    if bad:
        raise InputError(f"{name}: {where}: values must be numbers or null: {', '.join(bad)}")


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def write_report(results: list[dict], out: str, per_sample: str | None = None,
                 labels: list[str] | None = None) -> str:
    """Write the report of `results` to `out` (path or object-store URL) atomically; return `out`.
    `per_sample` (a Parquet file or folder) gives the first result's per-sample values; otherwise
    each result's own `per_sample.uri` is used where it exists here. `labels` name the results
    (default: `result 1`, `result 2`, ...)."""
    try:
        import jinja2  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise InputError(f"reports need matplotlib and Jinja2 ({e}): pip install 'raydeval[report]'") from None
    from raydeval.io import fs
    from raydeval.report.page import render

    if not results:
        raise InputError("report: no result given")
    labels = labels or [f"result {i + 1}" for i in range(len(results))]
    for result, label in zip(results, labels):
        check_result(result, label)
    if per_sample and not os.path.exists(per_sample):
        raise InputError(f"--per-sample {per_sample}: no such file or folder")
    fs.check_destination(out, "-o")
    write_atomic(out, render(results, labels, per_sample))
    return out
