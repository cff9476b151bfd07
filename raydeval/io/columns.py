"""Typed, validated columns of a manifest; every bad value is reported with its id."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raydeval.errors import InputError, Problems
from raydeval.io import messages
from raydeval.io.manifest import Manifest


def has(m: Manifest, column: str) -> bool:
    return column in m.table.column_names


def require(m: Manifest, *columns: str) -> None:
    missing = [c for c in columns if not has(m, c)]
    if missing:
        raise InputError(messages.missing_columns(m.uri, missing, m.table.column_names))


def ids(m: Manifest, problems: Problems) -> pa.Array:
    """The `id` column: present, text, non-null (uniqueness is checked by `join_ids`)."""
    require(m, "id")
    col = m.table.column("id").combine_chunks()
    if pa.types.is_null(col.type) and len(col) == 0:
        return pa.array([], pa.string())
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise InputError(messages.text_ids(m.uri, col.type))
    col = col.cast(pa.string())
    if col.null_count:
        nulls = pc.is_null(col).to_numpy(zero_copy_only=False)
        problems.add(m.uri, "id", messages.EMPTY_ID, [f"row {i + 1}" for i in np.flatnonzero(nulls)])
    return col


def join_ids(gt: Manifest, gt_ids: pa.Array, pred: Manifest, pred_ids: pa.Array,
             problems: Problems) -> np.ndarray:
    """For each GT row, its prediction row (-1 where missing); duplicate ids are reported.

    One dictionary encoding of both id columns serves the duplicate checks and the join.
    """
    encoded = pa.concat_arrays([gt_ids.cast(pa.string()), pred_ids.cast(pa.string())]).dictionary_encode()
    dictionary = encoded.dictionary
    size = len(dictionary)
    codes = pc.fill_null(encoded.indices, size).to_numpy(zero_copy_only=False)  # null -> size
    gt_codes, pred_codes = codes[:len(gt_ids)], codes[len(gt_ids):]
    for m, side in ((gt, gt_codes), (pred, pred_codes)):
        repeated = np.flatnonzero(np.bincount(side, minlength=size + 1)[:size] > 1)
        problems.add(m.uri, "id", messages.DUPLICATE_ID, dictionary.take(pa.array(repeated)).to_pylist())
    where = np.full(size + 1, -1, dtype=np.int64)
    where[pred_codes[::-1]] = np.arange(len(pred_codes) - 1, -1, -1)  # first occurrence wins
    where[size] = -1
    return where[gt_codes]


def _text(col: pa.Array) -> bool:
    return pa.types.is_string(col.type) or pa.types.is_large_string(col.type)


def _column(m: Manifest, name: str) -> pa.Array:
    return m.table.column(name).combine_chunks()


def labels(m: Manifest, name: str, row_ids: pa.Array, problems: Problems) -> np.ndarray:
    """0/1 labels as int8; anything else (2, 0.5, "yes", empty) is reported."""
    col = _column(m, name)
    if _text(col):
        good = pc.fill_null(pc.is_in(col, value_set=pa.array(["0", "1"])), False).to_numpy(zero_copy_only=False)
        out = pc.fill_null(pc.equal(col, "1"), False).to_numpy(zero_copy_only=False).astype(np.int8)
    elif pa.types.is_integer(col.type) or pa.types.is_boolean(col.type) or pa.types.is_floating(col.type):
        raw = col.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)  # nulls -> nan
        good = (raw == 0) | (raw == 1)
        out = (raw == 1).astype(np.int8)
    else:
        raise InputError(messages.wrong_type(m.uri, name, "0/1 labels", col.type))
    _report(m, name, messages.BAD_LABEL, row_ids, ~good, problems)
    return out


def scores(m: Manifest, name: str, row_ids: pa.Array, problems: Problems) -> np.ndarray:
    """Finite float64 scores in [0, 1]."""
    out = _numbers(m, name, "numbers in [0, 1]")
    with np.errstate(invalid="ignore"):
        bad = ~((out >= 0.0) & (out <= 1.0))  # NaN, inf, nulls and out-of-range alike
    _report(m, name, messages.BAD_SCORE,
            row_ids, bad, problems)
    return np.where(bad, 0.0, out) + 0.0


def positive_ints(m: Manifest, name: str, row_ids: pa.Array, problems: Problems) -> np.ndarray:
    """Integers > 0 (e.g. `num_frames`)."""
    out = _numbers(m, name, "integers")
    with np.errstate(invalid="ignore"):
        bad = ~((out > 0) & (out == np.floor(out)) & (out < 2**53))
    _report(m, name, "expected an integer > 0", row_ids, bad, problems)
    return np.where(bad, 1, out).astype(np.int64)


def _numbers(m: Manifest, name: str, expected: str) -> np.ndarray:
    """A numeric or numeric-text column as float64; nulls and unparsable text become NaN."""
    col = _column(m, name)
    if _text(col):
        try:
            col = pc.cast(col, pa.float64())  # fast path: every non-null cell parses
        except pa.ArrowInvalid:
            return np.array([_to_float(v) for v in col.to_pylist()], dtype=np.float64)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return col.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    raise InputError(messages.wrong_type(m.uri, name, expected, col.type))


def uris(m: Manifest, name: str, row_ids: pa.Array, problems: Problems) -> list[str | None]:
    """Media references resolved against the manifest's location; null and empty stay None."""
    if not has(m, name):
        return [None] * m.rows
    col = _column(m, name)
    if pa.types.is_null(col.type):
        return [None] * len(col)
    if not _text(col):
        raise InputError(f"{m.uri}, column `{name}`: expected file paths or URLs, got {col.type}")
    if col.null_count == len(col):
        return [None] * len(col)
    out, escaping = col.to_pylist(), []
    for i, value in enumerate(out):
        if value:
            try:
                out[i] = m.resolve(value)
            except ValueError as e:
                out[i] = None
                escaping.append(f"{row_ids[i].as_py()} ({e})")
        else:
            out[i] = None
    problems.add(m.uri, name, "media path outside the zip archive", escaping)
    return out


def intervals(m: Manifest, name: str, row_ids: pa.Array, problems: Problems) -> list[list[tuple[int, int]]]:
    """Lists of [start, end) frame intervals (JSON text in CSV); shape errors are reported."""
    col = _column(m, name)
    values = col.to_pylist()
    out, bad = [], np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        try:
            out.append(_parse_intervals(value))
        except ValueError:
            out.append([])
            bad[i] = True
    _report(m, name, "expected a list of [start, end) integer pairs with start < end, "
            "e.g. [[0, 12], [40, 55]]", row_ids, bad, problems)
    return out


def _parse_intervals(value) -> list[tuple[int, int]]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            raise ValueError(value[:40]) from None
    if not isinstance(value, list):
        raise ValueError(value)
    pairs = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_int(v) for v in pair)):
            raise ValueError(pair)
        start, end = int(pair[0]), int(pair[1])
        if not 0 <= start < end:
            raise ValueError(pair)
        pairs.append((start, end))
    return pairs


def _is_int(v) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def _to_float(text: str | None) -> float:
    if text is None:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _report(m: Manifest, column: str, what: str, row_ids: pa.Array, bad: np.ndarray, problems: Problems) -> None:
    if bad.any():
        problems.add(m.uri, column, what, row_ids.take(pa.array(np.flatnonzero(bad))).to_pylist())
