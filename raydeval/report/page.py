"""Results → the report's page: what each section shows, filled into the Jinja2 template."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa

from raydeval import __version__
from raydeval.errors import InputError
from raydeval.io import fs
from raydeval.report import charts, is_number

LOWER_IS_BETTER = {"eer"}
RUN_FIELDS = ("raydeval", "started", "seconds", "ray", "workers", "shards", "shards_reused", "shards_retried",
              "device")


class Charts:
    """Renders figures to inline SVG, each with its own id salt so ids never clash on the page."""

    def __init__(self):
        self.count = 0

    def __call__(self, fig) -> str:
        self.count += 1
        return charts.svg(fig, f"raydeval-report-{self.count}")


def render(results: list[dict], labels: list[str], per_sample: str | None) -> str:
    """The whole page as HTML text."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("raydeval.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    draw = Charts()
    sections = [section(r, label, f"r{i + 1}", per_sample if i == 0 else None, draw)
                for i, (r, label) in enumerate(zip(results, labels))]
    compared = comparison(results, labels, draw) if len(results) > 1 and shared_metrics(results) else None
    tasks = list(dict.fromkeys(r["task"] for r in results))
    return env.get_template("report.html.j2").render(
        title=f"raydeval report — {', '.join(tasks)}", version=__version__, sections=sections,
        comparison=compared, fmt=fmt)


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.6f}"


def interval(value) -> dict | None:
    """An interval as {lo, hi, se}: from `[lo, hi]` or an object with `lo`, `hi` (and `se`)."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        value = {"lo": value[0], "hi": value[1]}
    if not (isinstance(value, dict) and is_number(value.get("lo")) and is_number(value.get("hi"))):
        return None
    return {"lo": value["lo"], "hi": value["hi"], "se": value.get("se") if is_number(value.get("se")) else None}


def level(bootstrap, intervals: dict) -> float | None:
    """The intervals' confidence level: the bootstrap convention's, else the intervals' own."""
    levels = [bootstrap.get("level")] if isinstance(bootstrap, dict) else []
    levels += [i.get("level") for i in intervals.values() if isinstance(i, dict)]
    return next((v for v in levels if is_number(v)), None)


def headline(result: dict) -> list[str]:
    """The metrics a breakdown chart shows: those `score` weighs, and `score`; else the first three."""
    names = [m for m in result["conventions"].get("weights", {}) if m in result["metrics"]]
    if names and "score" in result["metrics"]:
        names.append("score")
    return names or list(result["metrics"])[:3]


def section(result: dict, label: str, anchor: str, per_sample: str | None, draw: Charts) -> dict:
    """Everything the page shows about one result."""
    intervals = result.get("intervals") or {}
    versions = result["run"].get("versions")
    return {
        "label": label, "anchor": anchor, "task": result["task"],
        "metrics": [{"name": name, "value": value, "interval": interval(intervals.get(name))}
                    for name, value in result["metrics"].items()],
        "level": level(result["conventions"].get("bootstrap"), intervals),
        "has_intervals": bool(intervals), "notes": result.get("notes", []),
        "counts": result.get("counts", {}),
        "conventions": {k: v if isinstance(v, str) else json.dumps(v)
                        for k, v in result["conventions"].items()},
        "inputs": {name: {k: i.get(k, "") for k in ("uri", "sha256", "rows")}
                   for name, i in (result.get("inputs") or {}).items() if isinstance(i, dict)},
        "run": {k: result["run"][k] for k in RUN_FIELDS if k in result["run"]},
        "versions": versions if isinstance(versions, dict) else {},
        "breakdowns": [breakdown(result, column, cells, draw)
                       for column, cells in (result.get("breakdown") or {}).items()],
        "shared_negatives": result["conventions"].get("shared_negatives", False),
        "curves": curves([(label, result)], draw),
        "per_sample": histograms(result, per_sample, draw),
    }


def breakdown(result: dict, column: str, cells: dict, draw: Charts) -> dict:
    """One breakdown column: its chart (headline metrics per group, intervals as error bars) and table."""
    groups = list(cells)
    metrics = {g: cells[g].get("metrics", {}) for g in groups}
    series = {m: [metrics[g].get(m) for g in groups] for m in headline(result)}
    errors = {m: [_pair(interval((cells[g].get("intervals") or {}).get(m))) for g in groups] for m in series}
    fig = charts.grouped_bars(f"{result['task']} by {column}", groups, series, errors, ylabel="value",
                              xlabel=column, counts=[cells[g].get("n") for g in groups])
    names = list(dict.fromkeys(m for g in groups for m in metrics[g]))
    rows = [{"group": g, "n": cells[g].get("n"), "values": [metrics[g].get(m) for m in names],
             "notes": cells[g].get("notes", [])} for g in groups]
    return {"column": column, "svg": draw(fig), "metrics": names, "rows": rows}


def curves(labelled: list[tuple[str, dict]], draw: Charts) -> dict | None:
    """ROC and DET charts of the results that carry per-score counts of both classes."""
    usable = [(label, r) for label, r in labelled if r.get("scores") and sum(r["scores"]["pos"]) > 0
              and sum(r["scores"]["neg"]) > 0]
    if not usable:
        return None
    items = [{"label": label, "scores": r["scores"], "auc": r["metrics"].get("auc"), "eer": r["metrics"].get("eer")}
             for label, r in usable]
    binned = [label for label, r in usable if r["scores"].get("binned")]
    return {"roc": draw(charts.roc(items)), "det": draw(charts.det(items)), "binned": binned,
            "eer": usable[0][1]["conventions"].get("eer")}


def per_sample_source(result: dict, given: str | None) -> tuple[str | None, str | None]:
    """(path to read, note to show): the given file, else the result's own when it is here."""
    if given:
        return given, None
    uri = (result.get("per_sample") or {}).get("uri")
    if not uri:
        return None, None
    if fs.is_local(uri) and os.path.exists(fs.local_path(uri)):
        return fs.local_path(uri), None
    return None, f"per-sample values at {uri} are not on this machine: no histograms"


def histograms(result: dict, given: str | None, draw: Charts) -> dict | None:
    """Histograms of the per-sample values (floating-point columns other than the grouping ones)."""
    path, note = per_sample_source(result, given)
    if path is None:
        return {"path": None, "note": note, "charts": []} if note else None
    group_by = result["conventions"].get("group_by") or []
    skip = {"id", *([group_by] if isinstance(group_by, str) else group_by)}
    table = read_per_sample(path, lambda field: field.name not in skip and pa.types.is_floating(field.type))
    figures, empty = [], []
    for name in table.column_names:
        values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        finite = values[np.isfinite(values)]
        if finite.size:
            figures.append(draw(charts.histogram(name, finite, int(values.size - finite.size))))
        else:
            empty.append(name)
    return {"path": path, "rows": table.num_rows, "charts": figures,
            "note": f"no values in {', '.join(empty)}" if empty else None}


def read_per_sample(path: str, wanted):
    """The columns of a per-sample Parquet file or folder whose schema field is `wanted`."""
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(path, format="parquet")
        return dataset.to_table(columns=[f.name for f in dataset.schema if wanted(f)])
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"per-sample file {path}: cannot read it as Parquet ({e})") from None


def shared_metrics(results: list[dict]) -> list[str]:
    return [m for m in results[0]["metrics"] if all(m in r["metrics"] for r in results[1:])]


def comparison(results: list[dict], labels: list[str], draw: Charts) -> dict:
    """Metric values side by side, with deltas against the first result, over the shared metrics."""
    shared = shared_metrics(results)
    rows = []
    for name in shared:
        base = results[0]["metrics"][name]
        cells = []
        for r in results:
            value = r["metrics"][name]
            delta = None if value is None or base is None else value - base
            better = delta is not None and delta != 0 and (delta < 0) == (name in LOWER_IS_BETTER)
            cells.append({"value": value, "delta": delta,
                          "trend": "same" if not delta else "better" if better else "worse"})
        rows.append({"name": name, "cells": cells})
    left_out = {label: [m for m in r["metrics"] if m not in shared] for label, r in zip(labels, results)}
    chart = None
    if shared:
        series = {label: [r["metrics"][m] for m in shared] for label, r in zip(labels, results)}
        errors = {label: [_pair(interval((r.get("intervals") or {}).get(m))) for m in shared]
                  for label, r in zip(labels, results)}
        chart = draw(charts.grouped_bars("metrics by result", shared, series, errors, ylabel="value",
                                         xlabel="metric"))
    overlay = list(zip(labels, results))
    return {"labels": labels, "tasks": [r["task"] for r in results], "rows": rows, "chart": chart,
            "samples": [r.get("counts", {}).get("samples") for r in results],
            "tasks_differ": len({r["task"] for r in results}) > 1,
            "left_out": {k: v for k, v in left_out.items() if v},
            "curves": curves(overlay, draw) if sum(bool(r.get("scores")) for r in results) > 1 else None}


def _pair(value: dict | None):
    return None if value is None else (value["lo"], value["hi"])
