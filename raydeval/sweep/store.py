"""The history: an append-only Parquet dataset, one file per sweep run, and its run summaries.

Layout (local path or any fsspec URL such as s3://):

    <history>/date=YYYY-MM-DD/<sweep_run>.parquet   one row per job of one sweep run
    <history>.summaries/<sweep_run>.json             the run's summary, beside the dataset

Files are never rewritten. Locally a file is written under a temporary dot-name in its final
folder (ignored by readers) and renamed; elsewhere it is one upload. So concurrent sweeps never
lose a row, and a reader never sees half a file.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow.fs import FSSpecHandler, PyFileSystem

from raydeval.errors import InputError, first_line
from raydeval.io import fs as storage

SCHEMA = pa.schema([
    ("sweep_run", pa.string()),
    ("time", pa.timestamp("us", tz="UTC")),  # when the job started
    ("job", pa.string()),
    ("task", pa.string()),
    ("status", pa.string()),  # ok, regression, skipped, bad-input, crashed
    ("gt_uri", pa.string()),
    ("gt_sha256", pa.string()),
    ("pred_uri", pa.string()),
    ("pred_sha256", pa.string()),
    ("conventions", pa.string()),  # JSON, keys sorted
    ("metrics", pa.map_(pa.string(), pa.float64())),  # metric -> value (null where undefined)
    ("metrics_json", pa.string()),  # the result's `metrics` as JSON
    ("counts", pa.string()),  # JSON
    ("breakdown", pa.string()),  # JSON: {column: {value: {n, metrics, notes}}} of the job's group_by
    ("notes", pa.string()),  # JSON list
    ("raydeval", pa.string()),  # version that wrote the row
    ("seconds", pa.float64()),
    ("error", pa.string()),  # bad-input / crashed: the message
])
PASSED = ("ok", "regression")  # statuses of rows that hold an evaluated result


class History:
    """The history dataset at `uri` with fsspec `storage_options`."""

    def __init__(self, uri: str, storage_options: dict | None = None):
        self.uri, self.storage_options = uri.rstrip("/"), storage_options or {}
        protocol, sep, path = self.uri.partition("://")
        if sep and protocol != "file" and "/" not in path:
            raise InputError(f"history {uri}: give a folder inside the bucket, e.g. {self.uri}/raydeval-history")
        try:
            self.fs, self.root = storage.filesystem(self.uri, self.storage_options)
        except (ImportError, ValueError, TypeError) as e:
            raise InputError(f"history {uri}: {e}") from None

    def read(self) -> pa.Table:
        """Every row (an empty table when there is no history yet)."""
        try:
            self.fs.invalidate_cache()  # listings cached by an earlier read or write are stale
            if not self.fs.exists(self.root):
                return SCHEMA.empty_table()
            dataset = ds.dataset(self.root, schema=SCHEMA, format="parquet",
                                 filesystem=PyFileSystem(FSSpecHandler(self.fs)))
            return dataset.to_table()
        except (OSError, pa.ArrowInvalid) as e:
            raise InputError(f"history {self.uri}: cannot read: {first_line(e)}") from None

    def latest_results(self) -> dict[str, dict]:
        """Each job's latest row holding an evaluated result (status ok or regression)."""
        rows = self.read().to_pylist()
        latest: dict[str, dict] = {}
        for row in sorted(rows, key=lambda r: r["time"]):
            if row["status"] in PASSED:
                latest[row["job"]] = row
        return latest

    def append(self, sweep_run: str, date: str, rows: list[dict]) -> str:
        """Write the rows of one sweep run as a new file; returns its path."""
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), sink)
        path = f"{self.uri}/date={date}/{sweep_run}.parquet"
        self._put(path, sink.getvalue().to_pybytes())
        return path

    def write_summary(self, sweep_run: str, text: str) -> str:
        """The run's summary JSON beside the dataset: `<history>.summaries/<sweep_run>.json`."""
        path = f"{self.uri}.summaries/{sweep_run}.json"
        self._put(path, text.encode())
        return path

    def _put(self, uri: str, data: bytes) -> None:
        try:
            storage.write_atomic(uri, data, self.storage_options)
        except OSError as e:
            raise InputError(f"history {self.uri}: cannot write {uri}: {first_line(e)}") from None
