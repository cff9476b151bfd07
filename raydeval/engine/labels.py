"""Label-only jobs of any size, out of core (no media: the dataset *is* the manifests).

DuckDB reads both manifests where they are (Parquet, CSV, JSONL, optionally .gz/.zst; local or
through fsspec), checks them and counts in SQL under a small memory limit, spilling to a temporary
folder, so the process never holds rows in proportion to the manifests: the same checks and
messages as the in-memory path (the first 20 offending ids and their number), the same integer
counts and per-score counts, hence bit-identical metrics. Beyond PARTITION_ROWS rows, both
manifests are first written to the temporary folder as Parquet files per hash partition of the
ids (about their own size on disk), and the joins and groupings run partition by partition.

Taken for a label task without `--address`, breakdowns, bootstrap or per-sample rows, when the
manifests together are larger than RAYDEVAL_OUT_OF_CORE_BYTES (default 8 MiB, about half a
million rows; 0: always). A manifest DuckDB cannot read, or reads otherwise than pyarrow (see
`_check_columns`), goes the in-memory way, which reports the problem as usual.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

import numpy as np
import pyarrow as pa

from raydeval.errors import MAX_IDS_SHOWN, InputError, Problems
from raydeval.io import fs, messages
from raydeval.io.hashing import sha256_of
from raydeval.io.manifest import split_format
from raydeval.io.result import redact
from raydeval.state import ScoreCounts, State

DEFAULT_BYTES = 8 * 2**20
PARTITION_ROWS = 10_000_000  # rows at most per hash partition of the id-keyed queries (joins, groupings)
MEMORY_MIB = 112  # DuckDB's working memory (about 0.25 GiB peak RSS in all up to PARTITION_ROWS rows)
PARTITION_MIB = 4  # ... and this much more per partition (their Parquet writers' buffers)
MAX_THREADS, THREAD_MIB = 4, 32  # DuckDB's threads at most, and its working memory per thread beyond 2
PLAIN_TYPES = re.compile(r'(VARCHAR|BOOLEAN|U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|"NULL")(\[\])*')
CODECS = {None: "none", "gzip": "gzip", "zstd": "zstd"}


class Unreadable(Exception):
    """DuckDB cannot read a manifest: the in-memory path reads it and says why."""


def threshold() -> int:
    return int(os.environ.get("RAYDEVAL_OUT_OF_CORE_BYTES", DEFAULT_BYTES))


def chosen(task, gt_uri: str, pred_uri: str, storage_options: dict) -> bool:
    """Whether this label job's manifests are large enough for the out-of-core path."""
    return task.label_only and large(gt_uri, pred_uri, storage_options)


def large(gt_uri: str, pred_uri: str, storage_options: dict) -> bool:
    """Whether two manifests are large enough to be joined out of core, and DuckDB reads them."""
    if any("::" in uri or any(c in uri for c in "*?[{") for uri in (gt_uri, pred_uri)):
        return False  # archives, and names DuckDB would read as glob patterns
    try:
        formats = [split_format(uri) for uri in (gt_uri, pred_uri)]
    except InputError:  # the in-memory path reports it
        return False
    if any(fmt == ".json" or fmt == ".parquet" and compression for fmt, compression in formats):
        return False  # the official JSON files (a JSON array), and compressed Parquet files
    return fs.total_size([gt_uri, pred_uri], storage_options) >= threshold()


def evaluate_labels(task, options: dict, gt_uri: str, pred_uri: str, storage_options: dict) -> tuple[State, dict]:
    """The merged state of a label job and the result's `inputs`, out of core."""
    import duckdb

    inputs = hashed_inputs(gt_uri, pred_uri, storage_options)
    sizes = partition_sizes()
    for partition_rows in sizes:
        with tempfile.TemporaryDirectory(prefix="raydeval-duckdb-") as spill:
            with connect(spill) as con:
                try:
                    joined, scored = _evaluate(con, spill, gt_uri, pred_uri, options, storage_options, inputs,
                                               partition_rows)
                except duckdb.OutOfMemoryException:
                    if partition_rows == sizes[-1]:
                        raise
                    continue  # smaller partitions
                except duckdb.Error as e:  # a value DuckDB cannot convert (say, text in a JSON number column)
                    raise Unreadable(str(e)) from None
        return _state(joined, scored), inputs


def hashed_inputs(gt_uri: str, pred_uri: str, storage_options: dict) -> dict:
    """The result's `inputs` (their row counts are filled in by `open_views`)."""
    return {side: {"uri": redact(uri), "sha256": sha256_of(uri, storage_options)}
            for side, uri in (("gt", gt_uri), ("pred", pred_uri))}


def connect(spill: str):
    """A DuckDB connection with a small memory limit, spilling to `spill` (DuckDB needs more memory
    per thread: at most MAX_THREADS, THREAD_MIB more for each beyond 2)."""
    import duckdb

    threads = min(os.cpu_count() or 1, MAX_THREADS)
    con = duckdb.connect(config={"memory_limit": f"{MEMORY_MIB + THREAD_MIB * max(0, threads - 2)}MB",
                                 "temp_directory": spill, "threads": threads})
    con.execute("SET enable_progress_bar = false")  # it draws on stdout, where --json goes
    return con


def partition_sizes() -> tuple[int, ...]:
    """Rows per hash partition to try, smaller each time DuckDB runs out of memory (wide rows)."""
    return PARTITION_ROWS, max(1, PARTITION_ROWS // 8), max(1, PARTITION_ROWS // 64)


def open_views(con, spill: str, gt_uri: str, pred_uri: str, storage_options: dict, inputs: dict,
               partition_rows: int, numbered: bool = False) -> "_Checks":
    """Views `gt` and `pred` of both manifests (hash-partitioned beyond `partition_rows` rows; with
    `numbered`, the partitions keep each row's number in its manifest as `raydeval_row`) and their
    checks; fills in the row counts of `inputs`. Raises Unreadable where DuckDB would read the
    manifests otherwise than pyarrow does (see `_check_columns`)."""
    # DuckDB 2.0's type pushdown turns TRY_CAST of a CSV text column into a cast that fails.
    con.execute("SET disabled_optimizers = 'type_pushdown'")
    registered = set()
    for side, uri in (("gt", gt_uri), ("pred", pred_uri)):
        header = _csv_header(uri, storage_options)
        if not fs.is_local(uri) and uri.split("://", 1)[0] not in registered:
            con.register_filesystem(fs.filesystem(uri, storage_options)[0])
            registered.add(uri.split("://", 1)[0])
        con.execute(f"CREATE VIEW {side} AS SELECT * FROM {_reader(uri, header)}")
        _check_columns(con.execute(f"DESCRIBE {side}").fetchall(), uri, header, storage_options)
    schemas = {side: con.sql(f"SELECT * FROM {side} LIMIT 0").to_arrow_table().schema for side in ("gt", "pred")}
    rows = {side: con.execute(f"SELECT count(*) FROM {side}").fetchall()[0][0] for side in ("gt", "pred")}
    for side in ("gt", "pred"):
        inputs[side]["rows"] = rows[side]
    partitions = -(-max(rows.values()) // partition_rows)
    if partitions > 1:
        con.execute(f"SET memory_limit = '{MEMORY_MIB + PARTITION_MIB * partitions}MB'")
        _partition(con, spill, partitions, numbered)
    return _Checks(con, schemas, {"gt": gt_uri, "pred": pred_uri}, rows, partitions, spill)


def _check_columns(described: list, uri: str, header: list[str] | None, storage_options: dict) -> None:
    """Unreadable unless DuckDB reads the manifest's columns as pyarrow does: the same names
    (DuckDB renames a name repeated in another case) and plain types (text, numbers, booleans and
    lists of them; not JSON of mixed types, UUIDs, dates or times, which pyarrow reads otherwise)."""
    names = [name for name, *_ in described]
    odd = [f"{name} ({kind})" for name, kind, *_ in described if not PLAIN_TYPES.fullmatch(kind)]
    if odd:
        raise Unreadable(f"columns DuckDB reads otherwise: {', '.join(odd)}")
    given = header or _parquet_names(uri, storage_options)
    lowered = [name.lower() for name in names]
    renamed = [n for n in names if re.fullmatch(r"(.+)_\d+", n) and re.fullmatch(r"(.+)_\d+", n)[1].lower() in lowered]
    if (given is not None and given != names) or (given is None and renamed):
        raise Unreadable("column names repeated in another case")


def _parquet_names(uri: str, storage_options: dict) -> list[str] | None:
    """The column names of a Parquet manifest (None for other formats)."""
    if split_format(uri)[0] != ".parquet":
        return None
    import fsspec
    import pyarrow.parquet as pq

    try:
        with fsspec.open(uri, "rb", **storage_options) as f:
            return pq.read_schema(f).names
    except Exception as e:  # fsspec and pyarrow raise assorted errors; the in-memory path reports them
        raise Unreadable(str(e)) from None


def _evaluate(con, spill: str, gt_uri: str, pred_uri: str, options: dict, storage_options: dict,
              inputs: dict, partition_rows: int) -> tuple[pa.Table, bool]:
    """The joined counts (see `_joined`) and whether there are scores; fills in the row counts."""
    checks = open_views(con, spill, gt_uri, pred_uri, storage_options, inputs, partition_rows)
    label_sql, pred_label_sql, score_sql = checks.run()
    joined = pa.concat_tables([_joined(con, gt, pred, label_sql, pred_label_sql, score_sql)
                               for gt, pred in zip(checks.parts("gt"), checks.parts("pred"))])
    checks.join(joined, options)
    checks.problems.raise_if_any()
    return joined, score_sql is not None


def _csv_header(uri: str, storage_options: dict) -> list[str] | None:
    """The column names of a CSV manifest (None for other formats). A header that is missing,
    unreadable or names a column twice goes the in-memory way, which says what is wrong."""
    fmt, compression = split_format(uri)
    if fmt != ".csv":
        return None
    import csv

    import fsspec

    try:
        with fsspec.open(uri, "rb", compression=compression, **storage_options) as f:
            first = f.readline()
        names = next(csv.reader([first.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")]), [])
    except Exception as e:  # fsspec and codecs raise assorted errors; the in-memory path reports them
        raise Unreadable(str(e)) from None
    if not names or len(set(names)) != len(names):
        raise Unreadable("no header, or a column named twice")
    return names


def _reader(uri: str, header: list[str] | None) -> str:
    fmt, compression = split_format(uri)
    path = quote(fs.local_path(uri))
    if fmt == ".parquet":
        return f"read_parquet({path})"
    codec = CODECS[compression]
    if fmt == ".csv":  # every column as (nullable) text, as the in-memory path reads CSV; no sniffing
        columns = ", ".join(f"{quote(name)}: 'VARCHAR'" for name in header)
        return (f"read_csv({path}, header = true, auto_detect = false, columns = {{{columns}}}, delim = ',', "
                f"quote = '\"', escape = '\"', nullstr = '', strict_mode = true, compression = '{codec}')")
    return f"read_json({path}, format = 'newline_delimited', compression = '{codec}')"


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _partition(con, folder: str, partitions: int, numbered: bool = False) -> None:
    """Both manifests written once as Parquet files per hash partition of their ids (DuckDB's
    joins and groupings on tens of millions of distinct text keys run out of memory under a small
    limit even when spilling; per partition they fit)."""
    for side in ("gt", "pred"):
        os.makedirs(f"{folder}/{side}")
        rows = f"SELECT row_number() OVER () AS raydeval_row, * FROM {side}" if numbered else f"SELECT * FROM {side}"
        con.execute(f"COPY (SELECT *, coalesce(hash(id), 0) % {partitions} AS raydeval_part FROM ({rows})) "
                    f"TO {quote(f'{folder}/{side}')} (FORMAT parquet, PARTITION_BY (raydeval_part))")


class _Checks:
    """The in-memory path's checks in SQL (raydeval.io.columns, tasks.base.joined_labels). Queries
    keyed by id (groupings, joins) run per hash partition of the ids (see `_partition`)."""

    def __init__(self, con, schemas: dict, uris: dict, rows: dict, partitions: int, folder: str):
        self.con, self.schemas, self.uris, self.rows, self.problems = con, schemas, uris, rows, Problems()
        self.partitions, self.folder = partitions, folder

    def parts(self, side: str) -> list[str]:
        """The relation of each hash partition of one manifest's rows (the manifest itself if one)."""
        if self.partitions == 1:
            return [side]
        return [f"read_parquet({quote(f'{self.folder}/{side}/raydeval_part={k}/*.parquet')})"
                if os.path.isdir(f"{self.folder}/{side}/raydeval_part={k}") else f"(SELECT * FROM {side} LIMIT 0)"
                for k in range(self.partitions)]

    def run(self) -> tuple[str, str, str | None]:
        """Check both manifests on their own (problems collected; a wrong type or a missing column
        raises InputError); the SQL of the GT label, predicted label and score."""
        self.ids()
        self._require("gt", "label")
        pred_columns = self.schemas["pred"].names
        if "label" not in pred_columns and "score" not in pred_columns:
            raise InputError(messages.no_label_or_score(self.uris["pred"]))
        label = self._labels("gt", "label")
        score = self._scores() if "score" in pred_columns else None
        pred_label = self._labels("pred", "label") if "label" in pred_columns else f"CAST({score} > 0.5 AS INTEGER)"
        return label, pred_label, score

    def _first(self, queries: list[str]) -> tuple[list, int]:
        """The first offending ids (by text order) of queries of ids, and how many there are."""
        first, total = [], 0
        for sql in queries:
            count = self.con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]
            if count:
                total += count
                first += self.con.execute(f"SELECT * FROM ({sql}) AS q ORDER BY 1 NULLS LAST "
                                          f"LIMIT {MAX_IDS_SHOWN}").fetchall()
        return sorted(("None" if i is None else i for (i,) in first))[:MAX_IDS_SHOWN], total

    def _add(self, side: str, column: str, what: str, *queries: str) -> None:
        ids, total = self._first(list(queries))
        self.problems.add(self.uris[side], column, what, ids, total)

    def _require(self, side: str, *columns: str) -> None:
        names = self.schemas[side].names
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(messages.missing_columns(self.uris[side], missing, names))

    def ids(self) -> None:
        """Both manifests' ids: rows at all, text ids, none empty or repeated."""
        if self.rows["gt"] == 0:
            raise InputError(messages.no_rows(self.uris["gt"]))
        for side in ("gt", "pred"):
            self._ids(side, self.rows[side])

    def _ids(self, side: str, rows: int) -> None:
        self._require(side, "id")
        kind = self.schemas[side].field("id").type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind) and not rows):
            raise InputError(messages.text_ids(self.uris[side], kind))
        nulls = self.con.execute(f"SELECT count(*) FROM {side} WHERE id IS NULL").fetchall()[0][0]
        if nulls:
            rows = self.con.execute(f"SELECT n FROM (SELECT row_number() OVER () AS n, id FROM {side}) "  # "row N"
                                    f"WHERE id IS NULL ORDER BY CAST(n AS VARCHAR) LIMIT {MAX_IDS_SHOWN}").fetchall()
            self.problems.add(self.uris[side], "id", messages.EMPTY_ID, [f"row {n}" for (n,) in rows], nulls)
        # a distinct count first: faster than the grouping that lists repeated ids, needed only if any
        if any(self.con.execute(f"SELECT count(id) > count(DISTINCT id) FROM {part}").fetchall()[0][0]
               for part in self.parts(side)):
            self._add(side, "id", messages.DUPLICATE_ID,
                      *(f"SELECT id FROM {part} WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1"
                        for part in self.parts(side)))

    def _labels(self, side: str, name: str) -> str:
        """Reports labels other than 0/1; the SQL of the label as 0/1."""
        kind = self.schemas[side].field(name).type
        column = ident(name)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            good = f"{column} IN ('0', '1')"
            value = f"CAST({column} = '1' AS INTEGER)"
        elif pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_floating(kind):
            good = f"CAST({column} AS DOUBLE) IN (0, 1)"
            value = f"CAST(CAST({column} AS DOUBLE) = 1 AS INTEGER)"
        else:
            raise InputError(messages.wrong_type(self.uris[side], name, "0/1 labels", kind))
        self._add(side, name, messages.BAD_LABEL, f"SELECT id FROM {side} WHERE NOT coalesce({good}, false)")
        return value

    def _scores(self) -> str:
        """Reports scores that are not finite numbers in [0, 1]; the SQL of the score."""
        kind = self.schemas["pred"].field("score").type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            value = "TRY_CAST(score AS DOUBLE)"
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            value = "CAST(score AS DOUBLE)"
        else:
            raise InputError(messages.wrong_type(self.uris["pred"], "score", "numbers in [0, 1]", kind))
        self._add("pred", "score", messages.BAD_SCORE,
                  # isfinite(), not isnan(): DuckDB folds isnan() and NaN comparisons into constants
                  # from Parquet statistics, which say nothing of NaN
                  f"SELECT id FROM pred WHERE NOT coalesce(isfinite({value}) AND {value} >= 0 AND {value} <= 1, false)")
        return value

    def join(self, joined: pa.Table, options: dict) -> None:
        """GT ids without a prediction (a problem unless --missing negative); extra predictions.
        `joined` (of `_joined`) tells whether any is missing and how many GT rows matched."""
        n, missing = joined.column("n").to_numpy(), joined.column("missing").to_numpy(zero_copy_only=False)
        matched = self.rows["gt"] - int(n[missing].sum())  # GT rows with a prediction (each once)
        if options["missing"] == "error" and missing.any():
            self._add("pred", "id", messages.missing_ids(),
                      *(f"SELECT id FROM {gt} WHERE id IS NOT NULL AND id NOT IN (SELECT id FROM {pred} "
                        "WHERE id IS NOT NULL)" for gt, pred in zip(self.parts("gt"), self.parts("pred"))))
        extra = self.rows["pred"] - matched
        if extra > 0:
            print(messages.extra_ids(self.uris["pred"], extra), file=sys.stderr)


def _joined(con, gt: str, pred: str, label: str, pred_label: str, score: str | None) -> pa.Table:
    """GT rows counted by (score, GT label, predicted label, prediction missing), from one join;
    a missing prediction counts as label 0 and score 0 (--missing negative)."""
    score_sql = "coalesce(p.s, 0.0) + 0.0" if score else "0.0"
    return con.sql(
        f"WITH g AS (SELECT id, {label} AS gl FROM {gt}), "
        f"p AS (SELECT id, {pred_label} AS pl{f', {score} AS s' if score else ''} FROM {pred}) "
        f"SELECT {score_sql} AS score, g.gl, coalesce(p.pl, 0) AS pl, p.id IS NULL AS missing, count(*) AS n "
        "FROM g LEFT JOIN p ON g.id = p.id GROUP BY ALL").to_arrow_table()


def _state(joined: pa.Table, scored: bool) -> State:
    """Confusion counts and per-score counts of the joined counts."""
    gl, pl, n = (joined.column(c).to_numpy().astype(np.int64) for c in ("gl", "pl", "n"))
    state = State()
    state.add(samples=n.sum(), tp=n[(gl == 1) & (pl == 1)].sum(), fp=n[(gl == 0) & (pl == 1)].sum(),
              fn=n[(gl == 1) & (pl == 0)].sum(), tn=n[(gl == 0) & (pl == 0)].sum())
    if scored:
        state.scores = ScoreCounts.grouped(joined.column("score").to_numpy(), n * gl, n * (1 - gl))
    return state
