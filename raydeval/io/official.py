"""The AV-Deepfake1M (and LAV-DF) JSON files as the benchmarks publish them, read as manifests.

Which file a `.json` is, its content tells:
* metadata: a JSON list of objects, one per video; `file` names it (it becomes `id`),
  `fake_segments` holds `[[start, end], ...]` in seconds; every other field is kept as metadata;
* submission: a JSON object `{file: [[confidence, start, end], ...], ...}`, read as the columns
  `id` and `proposals`. A file named twice stays twice (the join reports it), unlike in a dict.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

SUBMISSION = pa.schema([("id", pa.string()), ("proposals", pa.list_(pa.list_(pa.float64())))])


def read_json(data: bytes) -> pa.Table:
    """The table of a metadata list or a submission object; ValueError for anything else."""
    start = data.lstrip()[:1]
    if start == b"[":
        return _metadata(_loads(data))
    if start == b"{":
        return _submission(data)
    raise ValueError("expected AV-Deepfake1M metadata (a JSON list of objects, one per video) "
                     "or a submission (a JSON object {file: [[confidence, start, end], ...]})")


def _loads(data: bytes, **hooks):
    try:
        return json.loads(data, **hooks)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _metadata(items) -> pa.Table:
    bad = [f"entry {i + 1}" for i, o in enumerate(items)
           if not (isinstance(o, dict) and isinstance(o.get("file"), str)) or "id" in o]
    if bad:
        raise ValueError(f"every metadata entry must be an object with a `file` name (text) and no `id`: "
                         f"{', '.join(bad[:20])}{' …' if len(bad) > 20 else ''}")
    names = {"file": None}
    for o in items:
        names.update(dict.fromkeys(o))
    out = {}
    for n in names:
        try:
            out["id" if n == "file" else n] = pa.array([o.get(n) for o in items])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise ValueError(f"metadata field `{n}` holds values of different types") from None
    return pa.table(out)


def _submission(data: bytes) -> pa.Table:
    """Fast path: the object rewritten as JSON lines `{"id": key, "proposals": value}` and parsed by
    Arrow; anything it does not take (escapes in names, malformed values) goes the slow way, where
    the proposals that are not lists of number triples are reported by the task, by file name."""
    lines = _as_lines(data)
    if lines is not None:
        try:
            return pa_json.read_json(pa.BufferReader(lines), parse_options=pa_json.ParseOptions(
                explicit_schema=SUBMISSION, unexpected_field_behavior="error"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    pairs = _loads(data, object_pairs_hook=list)  # every object as its list of pairs: repeats stay
    ids = [key for key, _ in pairs]
    values = [value for _, value in pairs]
    try:
        proposals = pa.array(values, SUBMISSION.field("proposals").type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        proposals = pa.array([json.dumps(v) for v in values])  # text: checked row by row
    return pa.table({"id": pa.array(ids, pa.string()), "proposals": proposals})


def _as_lines(data: bytes) -> bytes | None:
    """`{"a": [...], "b": [...]}` as `{"id":"a","proposals":[...]}` lines, when every `"` in the
    file delimits a name (no escapes; values are numbers); None otherwise."""
    raw = np.frombuffer(data, np.uint8)
    if (raw == ord("\\")).any():
        return None
    quotes = np.flatnonzero(raw == ord('"'))
    if quotes.size % 2 or data[: quotes[0] if quotes.size else len(data)].strip() != b"{":
        return None
    ends = [*quotes[2::2].tolist(), len(data)]
    parts = []
    for start, stop, end in zip(quotes[0::2].tolist(), quotes[1::2].tolist(), ends):
        value = data[stop + 1:end].strip()
        last = end == len(data)
        if value[:1] != b":" or value[-1:] != (b"}" if last else b","):
            return None
        parts += [b'{"id":', data[start:stop + 1], b',"proposals":', value[1:-1], b"}\n"]
    return b"".join(parts)
