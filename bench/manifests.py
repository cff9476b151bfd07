"""(k) Manifests at scale: label-only evaluations, each in a fresh process timed from its start to
its exit, with the process's own peak RSS (VmHWM, threads included):

* raydeval (`raydeval eval openmmsec-audio`): large manifests go the out-of-core way (DuckDB);
* the same with the out-of-core path switched off (its in-memory pyarrow join);
* the script a user would write: pyarrow read + `Table.join` + scikit-learn f1 / roc_auc /
  average_precision, in one process (not at 100M rows: it needs about 26 GiB).

1M and 10M rows come from `bench.generate.label_workload`, 100M from `large_label_workload`
(written in batches, on disk). Runs of one size are interleaved.

(l) The same for image manifests (`bench.generate.image_manifest_workload`): raydeval's streamed
join (DuckDB, then shards cut from its output) against its in-memory join. The fake images carry
no masks, so that the figures are the join's and the driver's, not the decoder's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.common import median
from bench.memory import status_kib

NEVER = str(2**62)  # RAYDEVAL_OUT_OF_CORE_BYTES that no manifest reaches


def _child(kind: str, task: str, gt: str, pred: str) -> None:
    """Run one variant in this (fresh) process; print its peak RSS last."""
    if kind == "naive":
        import pyarrow.parquet as pq
        from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

        joined = pq.read_table(gt).join(pq.read_table(pred), "id")
        y, s = joined.column("label").to_numpy(), joined.column("score").to_numpy()
        print(f1_score(y, (s > 0.5).astype(int)), roc_auc_score(y, s), average_precision_score(y, s))
    else:
        from raydeval.cli import main

        code = main(["eval", task, "--gt", gt, "--pred", pred, "--json", "--quiet"])
        if code:
            sys.exit(code)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report its parent's RSS
    print(json.dumps({"peak_rss_mib": status_kib("self", "VmHWM") / 1024}), flush=True)


def _timed(kind: str, info: dict, task: str = "openmmsec-audio") -> dict:
    env = dict(os.environ)
    if kind == "in_memory":
        env["RAYDEVAL_OUT_OF_CORE_BYTES"] = NEVER
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    clock = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.manifests", "--child", kind, task, info["gt"], info["pred"]],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - clock
    if proc.returncode:
        raise RuntimeError(f"{kind} on {info['rows']:,} rows failed ({proc.returncode}): {proc.stderr[-2000:]}")
    lines = proc.stdout.strip().splitlines()
    out = {"seconds": seconds, **json.loads(lines[-1])}
    if kind != "naive":
        result = json.loads("\n".join(lines[:-1]))
        out.update(metrics=result["metrics"], join=result["run"]["join"])
    return out


def at_scale(infos: list[dict], reps: int, log=print) -> dict:
    """Every variant on every workload; `infos` as bench.generate returns them (with `rows`)."""
    out = {}
    for info in infos:
        huge = info["rows"] > 50_000_000
        kinds = ("raydeval",) if huge else ("raydeval", "in_memory", "naive")
        log(f"(k) {info['rows']:,} label rows: {', '.join(kinds)} x {1 if huge else reps} ...")
        runs = {kind: [] for kind in kinds}
        for _ in range(1 if huge else reps):
            for kind in kinds:
                runs[kind].append(_timed(kind, info))
        out[str(info["rows"])] = _summary(runs)
    return out


def _summary(runs: dict) -> dict:
    return {kind: {"seconds": [r["seconds"] for r in rs], "peak_rss_mib": max(r["peak_rss_mib"] for r in rs),
                   "metrics": rs[-1].get("metrics"), "join": rs[-1].get("join")} for kind, rs in runs.items()}


def images_at_scale(infos: list[dict], reps: int, log=print) -> dict:
    """(l): the streamed and the in-memory join on every image workload (with `rows`)."""
    out = {}
    for info in infos:
        log(f"(l) {info['rows']:,} image rows: raydeval, in_memory x {reps} ...")
        runs = {"raydeval": [], "in_memory": []}
        for _ in range(reps):
            for kind in runs:
                runs[kind].append(_timed(kind, info, "openmmsec-image"))
        out[str(info["rows"])] = _summary(runs)
    return out


def verdict(k: dict) -> str:
    """Which join won (k), and why, from its figures."""
    sizes = sorted((s for s in k if "naive" in k[s]), key=int)
    if not sizes:
        return ""
    big = k[sizes[-1]]
    duck, pyarrow, naive = big["raydeval"], big["in_memory"], big["naive"]
    return (f"Which won: DuckDB. At {int(sizes[-1]):,} rows it takes {median(duck['seconds']) / median(naive['seconds']):.2f}× "
            f"the naive script's time (pyarrow's threaded `Table.join`) and {median(duck['seconds']) / median(pyarrow['seconds']):.2f}× "
            f"the in-memory join's, at {duck['peak_rss_mib'] / naive['peak_rss_mib']:.0%} of the naive script's peak memory: "
            "DuckDB reads only the columns it needs, joins and groups on multiple cores and spills past its "
            "memory limit, while both pyarrow joins hold the two manifests and the joined table in memory and "
            "grow with the rows (they cannot reach 100M rows in 24 GiB). Ray Data's hash-partitioned join spreads "
            "rows over nodes, which one machine does not need, and pays Ray's start before any row moves.")


def image_figures(l: dict) -> dict:
    """Peak RSS growth of (l)'s smallest to largest size, for the streamed and the in-memory join."""
    small, large = sorted(l, key=int)[0], sorted(l, key=int)[-1]
    return {"image_sizes": (small, large),
            **{f"image_rss_growth_pct_{kind}": 100 * (l[large][kind]["peak_rss_mib"] / l[small][kind]["peak_rss_mib"] - 1)
               for kind in ("raydeval", "in_memory")}}


def figures(k: dict) -> dict:
    """Ratios and growth of (k)'s runs (sizes as text keys)."""
    sizes = sorted(k, key=int)
    f = {}
    ten = next((s for s in sizes if "naive" in k[s] and int(s) >= 5_000_000), None)
    one = next((s for s in sizes if int(s) < 5_000_000), None)
    if ten:
        f["scale_vs_naive"] = median(k[ten]["raydeval"]["seconds"]) / median(k[ten]["naive"]["seconds"])
        f["scale_rss_gib"] = k[ten]["raydeval"]["peak_rss_mib"] / 1024
    if ten and one:
        f["scale_rss_growth_pct"] = 100 * (k[ten]["raydeval"]["peak_rss_mib"] / k[one]["raydeval"]["peak_rss_mib"] - 1)
    f["scale_sizes"] = (one, ten)
    return f


def rows_of(k: dict, what: str = "Label rows") -> list[str]:
    """The report's table of (k) or (l)."""
    names = {"raydeval": "`raydeval eval` (out of core: DuckDB)", "in_memory": "`raydeval eval`, in-memory join "
             "(RAYDEVAL_OUT_OF_CORE_BYTES above the manifests)", "naive": "naive script: pyarrow `Table.join` + "
             "scikit-learn, one process"}
    lines = [f"| {what} | Variant (fresh process, from its start) | Wall s | Peak RSS MiB |", "|---|---|---|---|"]
    for size in sorted(k, key=int):
        for kind, run in k[size].items():
            seconds = run["seconds"]
            wall = f"{median(seconds):.2f}" + (f" ({min(seconds):.2f}–{max(seconds):.2f})" if len(seconds) > 1 else "")
            join = f" [{run['join']}]" if run.get("join") else ""
            lines.append(f"| {int(size):,} | {names[kind]}{join} | {wall} | {run['peak_rss_mib']:.0f} |")
    return lines


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    _child(*sys.argv[2:6])
