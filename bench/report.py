"""The benchmark report: the figures (throughputs, ratios) of a run's raw measurements, the targets
they are held to, the notes, and the Markdown rendering (`render`)."""

from __future__ import annotations

from bench.common import POOL_PROCESSES, median
from bench.manifests import figures as scale_figures, image_figures, rows_of as scale_rows, verdict

TARGETS = {
    "image_vs_floor": 0.90,
    "image_vs_naive": 25.0,
    "startup_s": 4.0,
    "scaling_1_to_2": 1.8,
    "video_vs_floor": 0.85,
    "labels_extra_s": 1.0,
    "labels_extra_rss_mib": 200.0,
    "small_job_ratio": 0.3,
    "state_overhead_pct": 5.0,
    "scale_vs_naive": 0.7,
    "scale_rss_gib": 1.0,
    "scale_rss_growth_pct": 20.0,
}


def figures(r: dict) -> dict:
    """Throughputs, ratios and target figures (None where not measured)."""
    s = r["sizes"]
    pairs, frames = s["image_pairs"], s["videos"] * s["video_frames"]
    small, large = s["label_rows"]
    f = {"pairs": pairs, "frames": frames}
    f["floor_images_pps"] = pairs / median(r["floor_images"]["seconds"])
    f["floor_videos_fps"] = frames / median(r["floor_videos"]["seconds"])
    f["floor1_images_pps"] = pairs / median(r["floor1_images"]["seconds"])
    f["floor1_videos_fps"] = frames / median(r["floor1_videos"]["seconds"])
    f["kernel1_images_pps"] = pairs / median(r["kernel1_images"]["seconds"])
    f["kernel1_videos_fps"] = frames / median(r["kernel1_videos"]["seconds"])
    f["naive_pps"] = r["naive"]["pairs"] / median(r["naive"]["seconds"])
    for w in (1, 2):
        f[f"images_{w}_pps"] = pairs / r[f"raydeval_images_{w}"]["wall"]
        f[f"videos_{w}_fps"] = frames / r[f"raydeval_videos_{w}"]["wall"]
    f["startup_s"] = r["fresh_images"]["first_shard"] if r.get("fresh_images") else None
    f["image_vs_floor"] = f["images_2_pps"] / f["floor_images_pps"]
    f["image_vs_naive"] = f["images_2_pps"] / f["naive_pps"]
    f["scaling_1_to_2"] = f["images_2_pps"] / f["images_1_pps"]
    f["video_scaling_1_to_2"] = f["videos_2_fps"] / f["videos_1_fps"]
    f["video_vs_floor"] = f["videos_2_fps"] / f["floor_videos_fps"]
    f["labels_extra_s"] = r[f"labels_{large}"]["wall"] - r[f"labels_{small}"]["wall"]
    fresh_small, fresh_large = r.get(f"fresh_labels_{small}"), r.get(f"fresh_labels_{large}")
    if fresh_small and fresh_large:
        f["labels_extra_rss_mib"] = fresh_large["driver_growth_mib"] - fresh_small["driver_growth_mib"]
        f["labels_extra_rss_source"] = "fresh processes"
    else:
        f["labels_extra_rss_mib"] = ((r[f"labels_{large}"]["driver_growth_mib"] or 0)
                                     - (r[f"labels_{small}"]["driver_growth_mib"] or 0))
        f["labels_extra_rss_source"] = "this process"
    f["fixed_s"] = r["fixed_cost"]["wall"]
    rd = r.get("raydata_images", {})
    if "seconds" in rd:
        f["raydata_pps"] = rd["pairs"] / median(rd["seconds"])
    if r.get("at_scale"):
        f.update(scale_figures(r["at_scale"]))
    if r.get("images_at_scale"):
        f.update(image_figures(r["images_at_scale"]))
    sj = r.get("small_job")
    f["small_job_ratio"] = median(sj["eval_seconds"]) / median(sj["ray_only_seconds"]) if sj else None
    sc = r.get("state_costs", {})
    for where in ("local", "s3"):
        f[f"state_{where}_pct"] = (100 * (median(sc[f"{where}_seconds"]) / median(sc["plain_seconds"]) - 1)
                                   if f"{where}_seconds" in sc else None)
    return f


def _engine_rows(r: dict) -> list[str]:
    """(h) and (i): small jobs in the CLI's own process, and persisted shard states."""
    lines = []
    sj, sc = r.get("small_job"), r.get("state_costs")
    if sj:
        lines += [
            "",
            "### Small jobs and persisted shard states",
            "",
            f"(h) Each command timed from process start to exit, in a fresh process with a temp folder of "
            f"its own; the three commands interleaved. The demo's benchmark: {sj['samples']} images "
            "(`raydeval.demo.make_image_benchmark`, seed 0).",
            "",
            "| Command | Wall s |",
            "|---|---|",
            f"| `raydeval eval openmmsec-image` on the demo's {sj['samples']} images (in the CLI's own process) | "
            f"{_fmt_s(sj['eval_seconds'])} |",
            "| `python -c` `ray.init(address=\"local\", num_cpus=2, include_dashboard=False)`, one empty task, "
            f"`ray.shutdown()` | {_fmt_s(sj['ray_only_seconds'])} |",
            f"| the same evaluation forced onto an embedded Ray (`--address local`) | "
            f"{_fmt_s(sj['eval_on_ray_seconds'])} |",
        ]
    if sc:
        plain = median(sc["plain_seconds"])
        lines += [
            "",
            f"(i) The image workload with Ray running (2 workers, {sc['shards']} shards), plain and with every "
            "shard's state persisted as it finishes (then removed, as after a successful run); S3: "
            f"{sc['s3']}.",
            "",
            "| Variant | Wall s | over plain |",
            "|---|---|---|",
            f"| plain | {_fmt_s(sc['plain_seconds'])} | – |",
        ]
        for where, label in (("local", "`--state-dir` on local disk"), ("s3", "`--state-dir s3://…`")):
            if f"{where}_seconds" in sc:
                extra = 100 * (median(sc[f"{where}_seconds"]) / plain - 1)
                lines.append(f"| {label} | {_fmt_s(sc[f'{where}_seconds'])} | {extra:+.1f} % |")
    ac = r.get("analysis_costs")
    if ac:
        lines += ["", "(j) The analyses, interleaved with a plain run of the same workload: images on the running "
                  "Ray (2 workers), label rows where raydeval runs them (in its own process).", "",
                  "| Workload | Variant | Wall s | over plain |", "|---|---|---|---|"]
        for name, run in ac.items():
            plain = median(run["plain_seconds"])
            lines.append(f"| {name} ({run['ray']}) | plain | {_fmt_s(run['plain_seconds'])} | – |")
            for variant, label in (("bootstrap", f"`--bootstrap {run['replicates']}`"),
                                   ("per_sample", "`--per-sample DIR`")):
                extra = median(run[f"{variant}_seconds"]) - plain
                lines.append(f"| {name} ({run['ray']}) | {label} | {_fmt_s(run[f'{variant}_seconds'])} | "
                             f"{extra:+.2f} s ({100 * extra / plain:+.0f} %) |")
    return lines


def _worker_rows(r: dict, f: dict, workload: str, rate: str, digits: str, unit: str) -> list[str]:
    """The (b) rows of a workload: raydeval with 1 and 2 workers."""
    return [f"| {workload} | (b) raydeval, {w} worker{'s' if w > 1 else ''} | "
            f"{_fmt_s(r[f'raydeval_{workload}_{w}']['walls'])} | {f[f'{workload}_{w}_{rate}']:{digits}} {unit} |"
            for w in (1, 2)]


def _fresh_labels(r: dict, label_rows) -> list[tuple[int, dict]]:
    """(rows, summary) of the one-shot fresh-process label runs that were measured."""
    return [(rows, r[f"fresh_labels_{rows}"]) for rows in label_rows if r.get(f"fresh_labels_{rows}")]


def _fmt_s(values) -> str:
    values = list(values)
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def render(r: dict, meta: dict) -> str:
    f = figures(r)
    s = r["sizes"]
    pairs, frames = f["pairs"], f["frames"]
    small_rows, large_rows = s["label_rows"]
    mach = meta["machine"]
    lines = [
        "# raydeval benchmark results",
        "",
        f"Generated by `bench/harness.py` on {meta['date']}. Every figure is the median of {r['reps']} "
        "repetition(s) (min–max in brackets) unless marked otherwise. Shared 2-core machine: expect "
        "±25 % between runs.",
        "",
        "## Machine and command",
        "",
        f"* CPU: {mach['cpu']}, {mach['cores']} cores"
        + (f", {mach['memory_gib']:.0f} GiB memory" if mach["memory_gib"] else "") + ", no GPU used",
        f"* Python {mach['python']} on {mach['platform']}",
        "* Versions: " + ", ".join(f"{k} {v}" for k, v in mach["versions"].items()),
        "* BLAS (threadpoolctl): " + ("; ".join(mach["blas"]) or "none loaded"),
        "* Environment: " + ", ".join(f"`{k}={v}`" for k, v in mach["env"].items()),
        f"* Command: `{meta['command']}`",
        f"* Load average (1/5/15 min) at start {_load(r['loadavg_start'])}, at end {_load(r['loadavg_end'])}; "
        f"harness wall time {r['harness_seconds']:.0f} s; workloads in `{meta['data']}`",
        "",
        "## Workloads",
        "",
        f"* images: {pairs} fake images with a GT and a predicted mask "
        f"({s['image_shape'][0]}×{s['image_shape'][1]} blob masks, 8-bit PNG ~20 KB; of every 50 pairs one "
        f"has a 16-bit PNG GT, one an RGB PNG GT, one a .npy GT, one a .npy prediction) + "
        f"{s['image_rows'] - pairs} real images without masks = {s['image_rows']} rows. "
        f"Unit: mask pairs ({2 * pairs} files).",
        f"* videos: {s['videos']} fake videos with GT and predicted FFV1 gray mask videos "
        f"({s['video_shape'][0]}×{s['video_shape'][1]}, {s['video_frames']} frames) + "
        f"{s['video_rows'] - s['videos']} real videos without masks. Unit: frame pairs ({frames}; "
        f"{2 * frames} frames decoded).",
        f"* labels (audio task): {small_rows:,} and {large_rows:,} rows, string ids, scores with 3 "
        "decimals (ties), predictions shuffled; Parquet.",
        "",
        "## Figures",
        "",
        "Throughput after start-up = work units / wall time of `evaluate()` with Ray already running "
        "(it includes manifest read + validation, shard tasks, merge and finalize). The floors and "
        f"every {POOL_PROCESSES}-worker run share interleaved rounds in an embedded Ray of "
        f"{POOL_PROCESSES} CPUs; the 1-worker runs follow in an embedded Ray of 1 CPU, as "
        "`raydeval eval --workers 1` starts it.",
        "",
        "| Workload | Variant | Wall s | Throughput |",
        "|---|---|---|---|",
        f"| images | (a) decode floor: pyspng / np.load, Pool({POOL_PROCESSES}) | "
        f"{_fmt_s(r['floor_images']['seconds'])} | {f['floor_images_pps']:.1f} pairs/s |",
    ]
    lines += _worker_rows(r, f, "images", "pps", ".1f", "pairs/s")
    lines.append(f"| images | (c) naive loop: Pillow + sklearn f1_score, 1 process, first "
                 f"{r['naive']['pairs']} pairs | {_fmt_s(r['naive']['seconds'])} | {f['naive_pps']:.2f} pairs/s |")
    rd = r.get("raydata_images", {})
    if "seconds" in rd:
        lines.append(f"| images | (d) Ray Data `map_batches` (batch {rd['batch_size']}) of raydeval's "
                     f"per-pair kernel | {_fmt_s(rd['seconds'])} | {f['raydata_pps']:.1f} pairs/s |")
    else:
        lines.append(f"| images | (d) Ray Data: skipped ({rd.get('skipped')}) | – | – |")
    lines += [
        f"| images | (g) decode floor, 1 process, no pool | {_fmt_s(r['floor1_images']['seconds'])} | "
        f"{f['floor1_images_pps']:.1f} pairs/s |",
        f"| images | (g) raydeval task kernel (`ImageTask.evaluate` on one shard), 1 process, no Ray | "
        f"{_fmt_s(r['kernel1_images']['seconds'])} | {f['kernel1_images_pps']:.1f} pairs/s |",
        f"| videos | (a) decode floor: PyAV Y plane, Pool({POOL_PROCESSES}) | "
        f"{_fmt_s(r['floor_videos']['seconds'])} | {f['floor_videos_fps']:.0f} frame pairs/s |",
    ]
    lines += _worker_rows(r, f, "videos", "fps", ".0f", "frame pairs/s")
    lines += [
        f"| videos | (g) decode floor, 1 process, no pool | {_fmt_s(r['floor1_videos']['seconds'])} | "
        f"{f['floor1_videos_fps']:.0f} frame pairs/s |",
        f"| videos | (g) raydeval task kernel (`VideoTask.evaluate` on one shard), 1 process, no Ray | "
        f"{_fmt_s(r['kernel1_videos']['seconds'])} | {f['kernel1_videos_fps']:.0f} frame pairs/s |",
    ]
    for rows in (small_rows, large_rows):
        run = r[f"labels_{rows}"]
        lines.append(f"| labels {rows:,} rows | (b) raydeval, 2 workers | {_fmt_s(run['walls'])} | "
                     f"{rows / run['wall']:,.0f} rows/s |")
    for rows, fr in _fresh_labels(r, (small_rows, large_rows)):
        lines.append(f"| labels {rows:,} rows | (e) one-shot in a fresh process: Ray start "
                     f"{fr['ray_start']:.3f} s + `evaluate()` | {fr['wall']:.3f} | {rows / fr['wall']:,.0f} rows/s |")
    if r.get("fresh_images"):
        fi = r["fresh_images"]
        lines.append(f"| images | (e) one-shot in a fresh process as the CLI runs it (manifests validated, then Ray "
                     f"started), shards of 1 sample: Ray start {fi['ray_start']:.3f} s, first shard's state on the "
                     f"driver {fi['first_shard']:.3f} s after Ray start began; `evaluate()` including Ray start | "
                     f"{fi['wall']:.3f} | {pairs / fi['wall']:,.0f} pairs/s |")
    fc = r["fixed_cost"]
    lines += [f"| 10 label rows | (g) fixed cost of one `evaluate()` (Ray running) | {_fmt_s(fc['walls'])} | – |"]
    if r.get("ray_start"):
        rs = r["ray_start"]
        lines.append(f"| – | Ray start: `RaySession('local', 2).start()` from stopped | {_fmt_s(rs['seconds'])} | – |")
        if rs.get("first_task_seconds"):  # (runs from before it was measured have none)
            lines.append(f"| – | Ray's first task after that start (a no-op) | {_fmt_s(rs['first_task_seconds'])} | – |")
        if rs["shutdown_seconds"]:
            lines.append(f"| – | Ray shutdown (`ray.shutdown()`) | {_fmt_s(rs['shutdown_seconds'])} | – |")
    lines += [
        "",
        "### Split of the raydeval runs (medians, seconds)",
        "",
        "`prepare` = manifest read + validation + join (`raydeval.evaluate.prepare`); `shard work` = "
        "`evaluate_table` (shard tasks, merge), of which `shard build` = cutting shards on the "
        "driver and `merge` = `State.merged` on the driver; `other` = the rest of `evaluate()` "
        "(finalize, result). Ray start is in none of them (timed above).",
        "",
        "| Run | total | prepare | shard work | shard build | merge | other | shards |",
        "|---|---|---|---|---|---|---|---|",
    ]
    runs = [("images, 1 worker", "raydeval_images_1"), ("images, 2 workers", "raydeval_images_2"),
            ("videos, 1 worker", "raydeval_videos_1"), ("videos, 2 workers", "raydeval_videos_2"),
            (f"labels {small_rows:,}, 2 workers", f"labels_{small_rows}"),
            (f"labels {large_rows:,}, 2 workers", f"labels_{large_rows}"),
            ("10 label rows, 2 workers", "fixed_cost")]
    for label, key in runs:
        run = r[key]
        lines.append(f"| {label} | {run['wall']:.3f} | {run['prepare']:.3f} | {run['shards']:.3f} | "
                     f"{run['shard_build']:.3f} | {run['merge']:.3f} | {run['other']:.3f} | "
                     f"{run['shard_count']} |")
    lines += [
        "",
        "### Memory (peak RSS)",
        "",
        "Driver peak growth = the driver's peak RSS during one `evaluate()` minus its RSS just before "
        "(VmHWM reset through `/proc/self/clear_refs`; includes object-store pages the driver writes). "
        "In a long-lived process it depends on what the allocators kept from earlier runs; the fresh-process "
        "rows are one-shot runs (median of the repetitions). Worker peak = the largest VmHWM of any "
        "Ray worker process (`ray::` processes, which run the `evaluate_shard` tasks), sampled every 50 ms in one extra untimed run.",
        "",
        "| Run | driver peak growth MiB | driver RSS after MiB | worker peak RSS MiB (processes seen) |",
        "|---|---|---|---|",
    ]
    for label, key in runs[:-1]:
        run = r[key]
        wp = run.get("worker_peak_mib")
        lines.append(f"| {label} | {_mib(run['driver_growth_mib'])} | {_mib(run.get('driver_rss_mib'))} | "
                     f"{_mib(wp)} ({run.get('worker_processes', '–')}) |")
    for rows, fr in _fresh_labels(r, (small_rows, large_rows)):
        lines.append(f"| labels {rows:,}, 2 workers, fresh process | {_mib(fr['driver_growth_mib'])} | "
                     f"peak {_mib(fr['driver_hwm_mib'])} | – |")
    lines += _engine_rows(r)
    if r.get("at_scale"):
        lines += ["", "### Manifests at scale", "", "(k) Label-only evaluations (audio task), each in a fresh process, "
                  "timed from its start to its exit; peak RSS = the process's own VmHWM (DuckDB's threads "
                  "included). 1M and 10M rows: `bench.generate.label_workload` (string ids, 3-decimal scores, "
                  "predictions shuffled, Parquet); 100M: `large_label_workload` (written in batches). Candidates: "
                  "DuckDB (raydeval's out-of-core path), raydeval's in-memory pyarrow join, and pyarrow's threaded "
                  "`Table.join` inside the naive script. Ray Data's hash-partitioned join is not measured: "
                  "`ray.data` needs pandas, which `ray[default]` lacks, and it pays Ray's start (~4 s here) plus "
                  "~2 s per pipeline before any row moves.", ""] + scale_rows(r["at_scale"])
        lines += ["", verdict(r["at_scale"])] if verdict(r["at_scale"]) else []
    if r.get("images_at_scale"):
        lines += ["", "(l) Image evaluations, each in a fresh process, timed and measured as (k): "
                  "`bench.generate.image_manifest_workload` (GT with a metadata column, predictions shuffled, "
                  "Parquet; the fake images carry no masks, so that the figures are the join's and the "
                  "driver's, not the decoder's). The default takes the streamed join (DuckDB writes the joined "
                  "rows in GT order, the driver checks them in batches and cuts the shards from them); the "
                  "other holds both manifests and the joined table in memory.", ""] + \
            scale_rows(r["images_at_scale"], "Image rows")
    startup = f["startup_s"]
    lines += [
        "",
        "## Targets",
        "",
        "| Target | Figure | Required | Met |",
        "|---|---|---|---|",
        _target("Image throughput after start-up vs decode-only floor (raydeval 2 workers vs Pool(2))",
                f["image_vs_floor"], "×", TARGETS["image_vs_floor"], ">="),
        _target("Image throughput after start-up vs naive loop (2 workers vs 1 process)", f["image_vs_naive"],
                "×", TARGETS["image_vs_naive"], ">="),
        _target("Start-up (fresh process, images: Ray start to the first shard's state on the driver)",
                startup, " s", TARGETS["startup_s"], "<="),
        _target("Scaling 1 → 2 workers (images)", f["scaling_1_to_2"], "×", TARGETS["scaling_1_to_2"], ">="),
        _target("Mask videos vs decode-only floor (raydeval 2 workers vs Pool(2))", f["video_vs_floor"], "×",
                TARGETS["video_vs_floor"], ">="),
        _target(f"Label rows: extra wall time of {large_rows:,} over {small_rows:,} rows (Ray running)",
                f["labels_extra_s"], " s", TARGETS["labels_extra_s"], "<="),
        _target(f"Label rows: extra driver peak-RSS growth of {large_rows:,} over {small_rows:,} rows "
                f"({f['labels_extra_rss_source']})", f["labels_extra_rss_mib"], " MiB",
                TARGETS["labels_extra_rss_mib"], "<="),
        _target("Small job: the demo's 120-image `raydeval eval` from process start vs a fresh process that "
                "starts Ray, runs one empty task and stops it", f["small_job_ratio"], "×",
                TARGETS["small_job_ratio"], "<="),
        _target("Persisting shard states on local disk: extra wall time over a plain run (images)",
                f["state_local_pct"], " %", TARGETS["state_overhead_pct"], "<="),
        _target("Persisting shard states on S3 (moto server): extra wall time over a plain run (images)",
                f["state_s3_pct"], " %", TARGETS["state_overhead_pct"], "<="),
        *_scale_targets(f),
        "",
        "Other ratios: "
        + "; ".join(x for x in [
            f"video scaling 1 → 2 workers {f['video_scaling_1_to_2']:.2f}×",
            f"the machine's own 1 → 2 process scaling for this work (decode floor Pool(2) vs 1 process): "
            f"images {f['floor_images_pps'] / f['floor1_images_pps']:.2f}×, videos "
            f"{f['floor_videos_fps'] / f['floor1_videos_fps']:.2f}×",
            f"Ray Data vs raydeval (images, 2 workers) {f['raydata_pps'] / f['images_2_pps']:.2f}×"
            if "raydata_pps" in f else "",
            f"raydeval images 1 worker vs 1-process decode floor {f['images_1_pps'] / f['floor1_images_pps']:.2f}×",
            f"raydeval's image task kernel vs 1-process decode floor (no Ray) "
            f"{f['kernel1_images_pps'] / f['floor1_images_pps']:.2f}×",
            f"video task kernel vs 1-process video floor {f['kernel1_videos_fps'] / f['floor1_videos_fps']:.2f}×",
            f"images, 2 workers, excluding the fixed per-evaluation cost ({f['fixed_s']:.2f} s) vs floor "
            f"{pairs / max(r['raydeval_images_2']['wall'] - f['fixed_s'], 1e-9) / f['floor_images_pps']:.2f}×",
            f"videos likewise {frames / max(r['raydeval_videos_2']['wall'] - f['fixed_s'], 1e-9) / f['floor_videos_fps']:.2f}×",
        ] if x) + ".",
    ]
    rs, fi = r.get("ray_start"), r.get("fresh_images")
    if rs and fi and rs.get("first_task_seconds"):
        ray_own = median(rs["seconds"]) + median(rs["first_task_seconds"])
        lines += ["", f"Start-up split (medians of separate runs): Ray's start in the fresh runs "
                  f"{fi['ray_start']:.2f} s; Ray's own cost of a first (no-op) task "
                  f"{median(rs['first_task_seconds']):.2f} s; the rest of the first shard's "
                  f"{fi['first_shard']:.2f} s, {fi['first_shard'] - fi['ray_start'] - median(rs['first_task_seconds']):.2f} s, "
                  f"is raydeval's: the worker's imports, Numba loading its cached kernels and the first "
                  f"sample (Ray alone, start plus first task: {ray_own:.2f} s)."]
    if meta.get("scale", 1.0) != 1.0:
        lines += ["", f"Note: run at --scale {meta['scale']}; the targets are defined for the default scale."]
    lines += ["", "## Agreement of the variants", ""]
    for check in r["agreement"]:
        lines.append(f"* {'OK' if check['ok'] else 'DIFFERENT'}: {check['what']}")
    m = r["raydeval_images_2"]["metrics"]
    lm = r[f"labels_{large_rows}"]["metrics"]
    lines.append(f"* Values: images macro_f1 {m['macro_f1']!r}, pixel_f1 {m['pixel_f1']!r}; videos mviou "
                 f"{r['raydeval_videos_2']['metrics']['mviou']!r}; labels {large_rows:,} f1 {lm['f1']!r}, "
                 f"auc {lm['auc']!r}")
    if meta.get("notes"):
        lines += ["", "## Notes", ""] + [f"* {n}" for n in meta["notes"]]
    lines += ["", meta["gpu_section"].strip() if meta.get("gpu_section") else
              "## GPU\n\nNot measured in this run (this machine has no GPU). The GPU targets are measured "
              "by `python -m bench.gpu` on a machine with one; `--gpu-section FILE` puts its output here."]
    return "\n".join(lines) + "\n"


def _scale_targets(f: dict) -> list[str]:
    one, ten = f.get("scale_sizes", (None, None))
    rows = []
    if ten:
        rows += [_target(f"{int(ten):,} label rows: `raydeval eval` vs the naive script, both from process start",
                         f["scale_vs_naive"], "×", TARGETS["scale_vs_naive"], "<="),
                 _target(f"{int(ten):,} label rows: peak RSS of the raydeval process", f["scale_rss_gib"], " GiB",
                         TARGETS["scale_rss_gib"], "<=")]
    if one and ten:
        rows.append(_target(f"Peak RSS growth from {int(one):,} to {int(ten):,} label rows",
                            f["scale_rss_growth_pct"], " %", TARGETS["scale_rss_growth_pct"], "<="))
    if f.get("image_sizes"):
        small, large = f["image_sizes"]
        rows.append(_target(f"Peak RSS growth from {int(small):,} to {int(large):,} image rows (streamed join; "
                            f"in-memory join: {f['image_rss_growth_pct_in_memory']:+.0f} %)",
                            f["image_rss_growth_pct_raydeval"], " %", TARGETS["scale_rss_growth_pct"], "<="))
    return rows


def _load(values) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def _mib(value) -> str:
    return "–" if value is None else f"{max(value, 0.0):.0f}"


def _target(what: str, value: float | None, unit: str, limit: float, op: str) -> str:
    required = f"{'≥' if op == '>=' else '≤'} {limit:g}{unit}"
    if value is None:
        return f"| {what} | not measured | {required} | – |"
    met = value >= limit if op == ">=" else value <= limit
    return f"| {what} | {value:.2f}{unit} | {required} | {'met' if met else '**not met**'} |"


NOTES = [
    "(i) Persisting states on S3 costs a fixed number of requests per run: one PUT per shard (16 here) "
    "plus the ledger, a listing and the removal, about 20 requests. Against moto's server — a Python "
    "process on the same 2 cores as the workers — that is about 0.1 s, which is 14 % of this 0.7 s "
    "workload; the count grows with the number of shards (guided sizes: at most a few hundred per "
    "million rows), not with the work, so on a run of minutes it is below 1 %. On local disk the "
    "same writes cost about 1 %.",
    "The naive loop is timed on its first pairs only (it runs at a few pairs/s); its cost is per pair, "
    "so the ratio does not depend on the subset. Its metrics are checked against raydeval's kernel on "
    "the same pairs.",
    "The floors (a), raydeval (b) and the label runs (e) are interleaved: each round runs every variant "
    "once, so a transient load on the shared machine hits all of them alike. The floor pool is spawned "
    "before Ray starts and runs next to the idle embedded Ray, as raydeval does. The single-process "
    "diagnostics (g) and the naive loop run before Ray starts.",
    "raydeval is measured in one long-lived process with Ray running; its shards are stateless Ray "
    "tasks, so later evaluations reuse Ray's worker processes; the `fixed cost` row isolates what one "
    "evaluation of a tiny manifest still costs.",
    "Ray Data runs raydeval's own per-pair kernel (read, decode, threshold, count, per-sample F1) and "
    "computes only pixel F1; its wall time includes the pipeline start.",
    "Ray's own start is bimodal on a small machine (about 2.8 or 3.8 s here): while `ray.init` waits "
    "for the new raylet to register, it asks the GCS once a second (a fixed one-second retry in Ray's "
    "GlobalStateAccessor::GetNode), so a raylet that registers just after a check costs a whole second. "
    "raydeval's share of the start-up includes Numba's first call, which imports SciPy when it is "
    "installed (as here, for scikit-learn): about 0.2 s of that share is absent where SciPy is not.",
    "bench needs pandas (Ray Data), scikit-learn and psutil: `pip install -r bench/requirements.txt`.",
]
