"""`temporal-localization`: forged segments of AV-Deepfake1M / LAV-DF videos (SPEC §6): AP@IoU,
AR@N and score = ½·mean AP + ½·mean AR. The metric definitions are in `raydeval.metrics_temporal`."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raydeval import metrics_temporal as mt
from raydeval.errors import InputError, Problems
from raydeval.exact import exact_sum_units, mean_from_units
from raydeval.io import columns
from raydeval.io.manifest import Manifest
from raydeval.state import State
from raydeval.tasks.base import Context, Convention, Task, join_rows, weighted_score

SHAPES = {2: "[start, end] pairs", 3: "[confidence, start, end] triples"}


class TemporalTask(Task):
    name = "temporal-localization"
    summary = "temporal forgery localisation, AV-Deepfake1M / LAV-DF (AP@IoU, AR@N, score)"
    headline = ("mean_ap", "mean_ar")
    extras = (*(f"ap@{t}" for t in mt.AP_IOUS), *(f"ar@{n}" for n in mt.AR_NS))
    score_curves = False  # its per-score table counts proposals per threshold, not samples
    default_weights = (Fraction(1, 2), Fraction(1, 2))
    conventions = {
        "protocol": Convention("av1m", ("av1m", "activitynet"),
                               "AP/AR definition: the official AV-Deepfake1M scorer, or ActivityNet-style"),
        "missing": Convention("error", ("error", "negative"),
                              "GT videos absent from the submission: error, or score them as having no proposals"),
        "units": Convention("seconds", help="segments and proposals in seconds, as in the official files (fixed)"),
        "ties": Convention("float32, false positives first",
                           help="confidences compared as float32; among equal ones false positives "
                                "come first, whatever the file order (fixed)"),
        "empty_proposals": Convention("no proposals", help="an empty proposal list: the video's GT segments "
                                                           "are missed, none of it is a false positive (fixed)"),
    }

    def prepare(self, gt: Manifest, pred: Manifest, options: dict) -> pa.Table:
        problems = Problems()
        gt_ids, pred_ids = columns.ids(gt, problems), columns.ids(pred, problems)
        name = "fake_periods" if columns.has(gt, "fake_periods") and not columns.has(gt, "fake_segments") \
            else "fake_segments"  # LAV-DF's metadata calls them fake_periods
        columns.require(gt, name)
        columns.require(pred, "proposals")
        segs, seg_len = tuples(gt, name, 2, gt_ids, problems)
        props, prop_len = tuples(pred, "proposals", 3, pred_ids, problems)
        _check(gt, name, "segment", gt_ids, seg_len, segs, problems)
        _check(pred, "proposals", "proposal", pred_ids, prop_len, props[:, 1:], problems)
        rows = np.repeat(np.arange(len(pred_ids)), prop_len)
        problems.add(pred.uri, "proposals", "confidence not a finite number (NaN or inf)",
                     pred_ids.take(pa.array(np.unique(rows[~np.isfinite(props[:, 0])]))).to_pylist())
        row = join_rows(gt, gt_ids, pred, pred_ids, options, problems, negative="having no proposals")
        problems.raise_if_any()
        starts = np.concatenate([[0], np.cumsum(prop_len)])
        taken = np.append(prop_len, 0)[row]  # row -1 (missing): no proposals
        first = starts[row]
        index = np.repeat(first - (np.cumsum(taken) - taken), taken) + np.arange(taken.sum())
        return pa.table({"id": gt_ids, "segments": _packed(segs, seg_len), "proposals": _packed(props[index], taken)})

    def shard_columns(self, names: list[str], ctx: Context) -> list[str]:
        return ["segments", "proposals"]

    def media_columns(self, ctx: Context) -> tuple[str, ...]:
        return ()

    def evaluate(self, shard: dict, ctx: Context) -> tuple[State, Problems]:
        segs, seg_off = _unpacked(shard["segments"], 2)
        props, prop_off = _unpacked(shard["proposals"], 3)
        conf, is_tp, recalled = mt.match(ctx.options["protocol"], seg_off, segs, prop_off, props)
        state = State()
        state.add(samples=seg_off.size - 1, gt_segments=len(segs), proposals=len(props),
                  **{f"tp@{t}": is_tp[i].sum() for i, t in enumerate(mt.AP_IOUS)},
                  **{f"recalled@{n}/{t}": recalled[i, k] for i, t in enumerate(mt.AR_IOUS)
                     for k, n in enumerate(mt.AR_NS)})
        state.scores = mt.confidence_table(conf, is_tp)
        return state, Problems()

    def finalize(self, state: State, options: dict) -> tuple[dict, list[str]]:
        notes: list[str] = []
        c, n_gt = state.counts, state.counts["gt_segments"]
        if n_gt == 0:
            notes.append("ap@*, ar@*: undefined without any GT segment (all videos real)")
            aps, ars = {t: None for t in mt.AP_IOUS}, {n: None for n in mt.AR_NS}
        else:
            (all_rank, all_count), *tables = mt.table_blocks(state.scores)
            if options["protocol"] == "av1m":
                aps = {t: mt.ap_av1m(mt.tp_positions(all_rank, all_count, *table), c["proposals"], n_gt)
                       for t, table in zip(mt.AP_IOUS, tables)}
            else:
                aps = {t: mt.ap_interpolated(all_rank, all_count, *table, n_gt) for t, table in zip(mt.AP_IOUS, tables)}
            ar = mt.ar_av1m if options["protocol"] == "av1m" else mt.ar_exact
            ars = {n: ar([c[f"recalled@{n}/{t}"] for t in mt.AR_IOUS], n_gt) for n in mt.AR_NS}
        values = {"mean_ap": _mean(aps.values()), "mean_ar": _mean(ars.values())}
        values["score"] = weighted_score(values, options, notes)
        values.update({f"ap@{t}": v for t, v in aps.items()})
        values.update({f"ar@{n}": v for n, v in ars.items()})
        return values, notes


def _mean(values) -> float | None:
    values = list(values)
    return None if None in values else mean_from_units(exact_sum_units(values), len(values))


def tuples(m: Manifest, name: str, width: int, row_ids: pa.Array, problems: Problems) -> tuple[np.ndarray, np.ndarray]:
    """A column of lists of number tuples (JSON text in CSV) as float64 rows (n, width) and the
    number of tuples of each row; rows of another shape are reported (and the column read as empty)."""
    col = m.table.column(name).combine_chunks()
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        parsed = [_parse_tuples(v, width) for v in col.to_pylist()]
        bad = np.array([p is None for p in parsed], dtype=bool)
        lengths = np.array([len(p or ()) for p in parsed], dtype=np.int64)
        values = np.array([t for p in parsed if p for t in p], dtype=np.float64).reshape(-1, width)
    else:
        try:
            col = col.cast(pa.list_(pa.list_(pa.float64())))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise InputError(f"{m.uri}, column `{name}`: expected lists of {SHAPES[width]}, got {col.type}") from None
        lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        inner = pc.list_flatten(col)
        inner_ok = pc.fill_null(pc.equal(pc.list_value_length(inner), width), False).to_numpy(zero_copy_only=False)
        bad = col.is_null().to_numpy(zero_copy_only=False)
        bad[np.repeat(np.arange(len(col)), lengths)[~inner_ok]] = True
        values = np.zeros((0, width)) if bad.any() else \
            pc.list_flatten(inner).to_numpy(zero_copy_only=False).astype(np.float64).reshape(-1, width)
    if bad.any():
        problems.add(m.uri, name, f"expected a list of {SHAPES[width]} of numbers",
                     row_ids.take(pa.array(np.flatnonzero(bad))).to_pylist())
        return np.zeros((0, width)), np.zeros(len(col), np.int64)
    return values, lengths


def _parse_tuples(text: str | None, width: int) -> list | None:
    """A JSON list of `width`-number lists, or None if the text is anything else."""
    try:
        value = json.loads(text) if text is not None else None
    except (json.JSONDecodeError, RecursionError):
        return None
    number = (int, float)
    if not isinstance(value, list) or not all(
            isinstance(t, list) and len(t) == width and all(isinstance(x, number) and not isinstance(x, bool) for x in t)
            for t in value):
        return None
    return value


def _check(m: Manifest, name: str, what: str, row_ids: pa.Array, lengths: np.ndarray, spans: np.ndarray,
           problems: Problems) -> None:
    """Start and end finite, end >= start; offending rows reported by id."""
    rows = np.repeat(np.arange(len(row_ids)), lengths)
    finite = np.isfinite(spans).all(axis=1)
    for bad, why in ((~finite, "start or end not a finite number"), (finite & (spans[:, 1] < spans[:, 0]),
                                                                     "with end < start")):
        problems.add(m.uri, name, f"{what} {why}", row_ids.take(pa.array(np.unique(rows[bad]))).to_pylist())


def _packed(values: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Each row's tuples as one binary cell of little-endian float64 (a shard unpacks them in one
    np.frombuffer, not one Python list per tuple)."""
    data = np.ascontiguousarray(values, dtype="<f8")
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64) * (8 * values.shape[1])
    return pa.Array.from_buffers(pa.large_binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _unpacked(cells: list[bytes], width: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `_packed` cells and the offset of each cell's first row."""
    lengths = np.array([len(c) for c in cells], dtype=np.int64) // (8 * width)
    values = np.frombuffer(b"".join(cells), "<f8").reshape(-1, width)
    return values, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
