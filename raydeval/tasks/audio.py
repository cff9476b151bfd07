"""`openmmsec-audio`: bona fide / spoof detection F1 (SPEC §1.4, §2.3)."""

from __future__ import annotations

import io
from collections import defaultdict

import numpy as np
import pyarrow as pa
import soundfile

from raydeval import metrics
from raydeval.errors import Problems
from raydeval.io import columns
from raydeval.io.manifest import Manifest
from raydeval.media import MediaError, read_bytes
from raydeval.samples import Samples, label_samples
from raydeval.state import State
from raydeval.tasks.base import COMMON_CONVENTIONS, Context, Task, joined_labels, rank_metrics


class AudioTask(Task):
    name = "openmmsec-audio"
    summary = "audio bona fide / spoof detection (F1, precision, recall)"
    headline = ()  # no combined score for audio
    extras = ("f1", "precision", "recall", "auc", "ap", "eer")
    gt_columns = ("id", "label", "audio")
    label_only = True
    default_weights = ()
    conventions = dict(COMMON_CONVENTIONS)

    def join(self, gt: Manifest, pred: Manifest, options: dict, problems: Problems) -> pa.Table:
        out, _ = joined_labels(gt, pred, options, problems)
        out.pop("pred_row")
        if columns.has(gt, "audio"):
            out["audio"] = columns.uris(gt, "audio", out["id"], problems)
        return pa.table(out)

    def shard_columns(self, names: list[str], ctx: Context) -> list[str]:
        if ctx.decode_only:
            return names
        return [c for c in ("gt_label", "pred_label", "pred_score") if c in names]

    def media_columns(self, ctx: Context) -> tuple[str, ...]:
        return ("audio",) if ctx.decode_only else ()

    def samples(self, shard: dict, ctx: Context) -> tuple[Samples, Problems]:
        out, problems = label_samples(shard), Problems()
        if ctx.decode_only and "audio" in shard:
            decoded = defaultdict(lambda: np.zeros(len(out), np.int64))
            for i, (sample_id, uri) in enumerate(zip(shard["id"], shard["audio"])):
                if uri is None:
                    continue
                try:
                    data, rate = soundfile.read(io.BytesIO(read_bytes(uri, ctx.storage_options)))
                except (MediaError, soundfile.LibsndfileError, RuntimeError) as e:
                    problems.add(ctx.gt_uri, "audio", "unreadable audio", [f"{sample_id} ({uri}: {e})"])
                    continue
                for key, value in (("audio_files", 1), ("audio_frames", len(data)), (f"sample_rate_{rate}", 1)):
                    decoded[key][i] = value
            out.counts.update(decoded)
        return out, problems

    def finalize(self, state: State, options: dict) -> tuple[dict, list[str]]:
        notes: list[str] = []
        c = state.counts
        values = {
            "f1": float(metrics.f1(c["tp"], c["fp"], c["fn"])),
            "precision": float(metrics.ratio(c["tp"], c["tp"] + c["fp"])),
            "recall": float(metrics.ratio(c["tp"], c["tp"] + c["fn"])),
        }
        values.update(rank_metrics(state, options, notes))
        return values, notes
