"""Manifests (Parquet, CSV, JSONL; optionally .gz/.zst) from any fsspec URL, as Arrow tables."""

from __future__ import annotations

import csv
import hashlib
import posixpath
from dataclasses import dataclass

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from raydeval.errors import InputError, first_line
from raydeval.io.official import read_json

FORMATS = (".parquet", ".csv", ".jsonl", ".json")  # .json: the official AV-Deepfake1M files
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd"}


@dataclass
class Manifest:
    """A manifest's rows plus what identifies it: URI, content hash and its media base."""

    uri: str
    table: pa.Table
    sha256: str

    @property
    def rows(self) -> int:
        return self.table.num_rows

    def resolve(self, path: str) -> str:
        """A media path as a URL: absolute paths and URLs as given, others relative to the manifest.

        Relative paths are URL-joined for remote manifests (`..` resolved). Inside a chained URL
        (`zip://member::archive.zip`) they are relative to the member and must stay inside the
        archive (ValueError otherwise).
        """
        head, chained, rest = self.uri.partition("::")
        if "://" in path or path.startswith("/"):
            if chained:
                raise ValueError(f"{path} is outside the archive")
            return path
        protocol, sep, base = head.rpartition("://")
        joined = posixpath.join(posixpath.dirname(base), path)
        if not sep:
            return joined
        joined = posixpath.normpath(joined)
        if chained and (joined == ".." or joined.startswith(("../", "/"))):
            raise ValueError(f"{path} escapes the archive")
        return f"{protocol}://{joined}{chained}{rest}"


def split_format(uri: str) -> tuple[str, str | None]:
    """(format extension, compression) from a manifest's name."""
    name = uri.split("::")[0].lower()
    compression = None
    for ext, codec in COMPRESSIONS.items():
        if name.endswith(ext):
            name, compression = name[: -len(ext)], codec
    for fmt in FORMATS:
        if name.endswith(fmt):
            return fmt, compression
    raise InputError(f"{uri}: unknown manifest format (expected one of "
                     f"{', '.join(FORMATS)}, optionally with .gz or .zst)")


def read_manifest(uri: str, storage_options: dict | None = None) -> Manifest:
    """Read and hash one manifest; a clear InputError for anything unreadable."""
    fmt, compression = split_format(uri)
    try:
        with fsspec.open(uri, "rb", **(storage_options or {})) as f:
            raw = f.read()
    except Exception as e:  # fsspec backends raise assorted errors (OSError, BadZipFile, SDK errors)
        raise InputError(f"{uri}: cannot read manifest: {first_line(e)}") from None
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        data = _decompress(raw, compression)
        table = _PARSERS[fmt](data)
    except (pa.ArrowInvalid, ValueError, OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{uri}: cannot parse {fmt[1:].upper()} manifest: {first_line(e)}") from None
    repeated = sorted({n for n in table.column_names if table.column_names.count(n) > 1})
    if repeated:
        raise InputError(f"{uri}: duplicate column name(s) {', '.join(f'`{n}`' for n in repeated)}")
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):  # e.g. pandas categoricals: use the plain values
            table = table.set_column(i, field.name, table.column(i).cast(field.type.value_type))
    return Manifest(uri, table, sha256)


def _decompress(raw: bytes, compression: str | None) -> bytes:
    if compression is None:
        return raw
    return pa.CompressedInputStream(pa.BufferReader(raw), compression).read()


def _read_parquet(data: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(data))


def _read_csv(data: bytes) -> pa.Table:
    """CSV with every column as (nullable) text: ids like "007" stay text; cells are typed later."""
    header_end = data.find(b"\n")
    header = data[: header_end if header_end >= 0 else len(data)].decode("utf-8").lstrip("\ufeff")
    names = next(csv.reader([header]), [])
    if not names:
        raise ValueError("empty file: no header row")
    options = pa_csv.ConvertOptions(column_types={n: pa.string() for n in names},
                                    null_values=[""], strings_can_be_null=True)
    return pa_csv.read_csv(pa.BufferReader(data), convert_options=options)


MAX_JSON_DEPTH = 64


def _read_jsonl(data: bytes) -> pa.Table:
    depth = _bracket_depth(data)
    if depth > MAX_JSON_DEPTH:  # pyarrow's JSON reader crashes on very deep nesting
        raise ValueError(f"JSON nested {depth} levels deep (at most {MAX_JSON_DEPTH} allowed)")
    return pa_json.read_json(pa.BufferReader(data))


def _bracket_depth(data: bytes) -> int:
    """Deepest bracket nesting on any line (brackets inside strings count too: an upper bound)."""
    raw = np.frombuffer(data, np.uint8)
    wanted = np.zeros(256, dtype=bool)
    wanted[list(b"[{]}\n")] = True
    marks = raw[wanted[raw]]
    step = np.where((marks == ord("[")) | (marks == ord("{")), 1, np.where(marks == ord("\n"), 0, -1))
    depth = np.cumsum(step)
    line_start = np.maximum.accumulate(np.where(marks == ord("\n"), np.arange(marks.size), -1))
    base = np.where(line_start >= 0, depth[np.maximum(line_start, 0)], 0)
    return int((depth - base).max()) if marks.size else 0


_PARSERS = {".parquet": _read_parquet, ".csv": _read_csv, ".jsonl": _read_jsonl, ".json": read_json}
