"""temporal-localization against the official AV-Deepfake1M scorer, on the same files.

    python -m bench.temporal [--videos 100000] [--proposals 100] [--dir /tmp/raydeval-bench-temporal]
                             [--reps 1] [--out FILE.md]

Writes (or reuses) a metadata JSON and a submission JSON of `--videos` videos with `--proposals`
proposals each (0–2 fake segments per video; float32-distinct confidences, so that both scorers
must agree bit for bit), then times, with medians of `--reps` runs:
  * the official scorer (`avdeepfake1m` 0.0.4's compiled `ap_ar_1d`, loaded without its Python
    wrapper; reads both files, Rust with Rayon on every core);
  * raydeval's `evaluate()` in one process (reads and validates both files, matches, merges, scores),
    and its split: reading the two files, the rest;
and reports the largest difference between their metrics and the peak RSS of this process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

import numpy as np

from bench.common import median
from raydeval.io.result import write_atomic

AP_IOUS, AR_NS, AR_IOUS = [0.5, 0.75, 0.9, 0.95], [50, 30, 20, 10, 5], [0.5 + 0.05 * i for i in range(10)]


def generate(folder: str, videos: int, proposals: int, seed: int = 0) -> tuple[str, str]:
    """metadata.json and submission.json under `folder` (reused when present)."""
    meta_path, pred_path = os.path.join(folder, "metadata.json"), os.path.join(folder, "submission.json")
    stamp = os.path.join(folder, f"done-{videos}x{proposals}-{seed}")
    if os.path.exists(stamp):
        return meta_path, pred_path
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    confidences = (rng.permutation(2**24)[: videos * proposals] / 2**24).reshape(videos, proposals)
    with open(meta_path, "w") as meta, open(pred_path, "w") as pred:
        meta.write("[")
        pred.write("{")
        for v in range(videos):
            name = f"test/{v:06d}.mp4"
            segs = []
            for _ in range(int(rng.integers(0, 3))):
                s = round(float(rng.uniform(0, 10)), 2)
                segs.append([s, round(s + float(rng.uniform(0.2, 2)), 2)])
            starts = rng.uniform(0, 10, proposals)
            ends = starts + rng.uniform(0.1, 2.5, proposals)
            for k, (s, e) in enumerate(segs[: proposals // 4]):  # some proposals near each segment
                starts[k], ends[k] = s + rng.normal(0, 0.1), e + rng.normal(0, 0.1)
            ends = np.maximum(ends, starts)
            rows = np.stack([confidences[v], starts.round(3), ends.round(3)], axis=1)
            meta.write(("," if v else "") + json.dumps({"file": name, "fake_segments": segs, "split": "test"}))
            pred.write(("," if v else "") + f'"{name}":' + json.dumps(rows.tolist()))
        meta.write("]")
        pred.write("}")
    open(stamp, "w").close()
    return meta_path, pred_path


def official_scorer():
    """The compiled module of `avdeepfake1m` (its wrapper imports pandas and torch), or None."""
    import importlib.machinery
    import importlib.util

    spec = importlib.util.find_spec("avdeepfake1m")
    if spec is None:
        return None
    folder = spec.submodule_search_locations[0]
    name = next((f for f in os.listdir(folder) if f.startswith("_evaluation") and f.endswith(".so")), None)
    if name is None:
        return None
    loader = importlib.machinery.ExtensionFileLoader("_evaluation", os.path.join(folder, name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location("_evaluation", loader.path,
                                                                                    loader=loader))
    loader.exec_module(module)
    return module


def run_official(module, meta: str, pred: str) -> dict:
    out = module.ap_ar_1d(pred, meta, "file", "fake_segments", 1.0, AP_IOUS, AR_NS, AR_IOUS)
    return {**{f"ap@{t}": out["ap"][float(np.float32(t))] for t in AP_IOUS},
            **{f"ar@{n}": out["ar"][n] for n in AR_NS}}


def run_raydeval(meta: str, pred: str) -> tuple[dict, float]:
    """Metrics and the seconds spent reading both files (the rest is validation and scoring)."""
    from raydeval.evaluate import RunSettings, evaluate
    from raydeval.io.manifest import read_manifest

    clock = time.perf_counter()
    read_manifest(meta)
    read_manifest(pred)
    reading = time.perf_counter() - clock
    result = evaluate("temporal-localization", meta, pred, {}, RunSettings(progress=False))
    assert result["run"]["ray"] == "in-process"
    return result["metrics"], reading


def timed(fn, reps: int):
    times, value = [], None
    for _ in range(reps):
        clock = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - clock)
    return median(times), value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=100_000)
    p.add_argument("--proposals", type=int, default=100)
    p.add_argument("--dir", default="/tmp/raydeval-bench-temporal")
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--out", help="Markdown report (default: stdout)")
    args = p.parse_args(argv)

    clock = time.perf_counter()
    meta, pred = generate(args.dir, args.videos, args.proposals)
    generated = time.perf_counter() - clock
    sizes = {path: os.path.getsize(path) / 2**20 for path in (meta, pred)}
    module = official_scorer()
    official_s, official = timed(lambda: run_official(module, meta, pred), args.reps) if module else (None, None)
    ours_s, (ours, reading) = timed(lambda: run_raydeval(meta, pred), args.reps)
    ours_total = ours_s - reading  # run_raydeval reads the files once more on its own, to time them
    diff = max(abs(ours[k] - official[k]) for k in official) if official else None

    lines = ["# temporal-localization vs the official AV-Deepfake1M scorer",
             "",
             f"{args.videos:,} videos × {args.proposals} proposals ({args.videos * args.proposals:,}); "
             f"metadata {sizes[meta]:.0f} MiB, submission {sizes[pred]:.0f} MiB (generated in {generated:.0f} s or reused); "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
             f"Python {sys.version.split()[0]}; median of {args.reps} run(s).",
             "",
             "| scorer | seconds |",
             "|---|---|",
             f"| official `avdeepfake1m` 0.0.4 `ap_ar_1d` (reads both files; Rust, all cores) | "
             f"{'n/a (not installed)' if official_s is None else f'{official_s:.2f}'} |",
             f"| raydeval `evaluate()`, one process (reads, validates, scores) | {ours_total:.2f} |",
             f"| … of which reading the two JSON files | {reading:.2f} |",
             "",
             f"Largest |raydeval − official| over ap@0.5…0.95, ar@50…5: "
             f"{'n/a' if diff is None else f'{diff:.3g}'}. Peak RSS of this process: "
             f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB.",
             "",
             "| metric | raydeval | official |",
             "|---|---|---|",
             *(f"| {k} | {v!r} | {official[k]!r} |" if official else f"| {k} | {v!r} | n/a |"
               for k, v in ours.items() if "@" in k)]
    text = "\n".join(lines) + "\n"
    if args.out:
        write_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
