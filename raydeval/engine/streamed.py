"""Image, video and label manifests of any size, joined out of core and streamed to the shards.

DuckDB checks the ids (empty, repeated; `labels._Checks`) and joins the predictions to the GT
rows out of core, per hash partition of the ids beyond 10M rows: every GT row once, next to its
prediction, in a temporary Parquet file per partition sorted by GT row; every other prediction
row (extra, repeated or without id) in a second one. The driver reads these files in batches of
BATCH_ROWS rows, merged back into GT order: once to check every column with the task's own `join`
(the in-memory path's checks and messages; problems kept bounded) and to size the job, and again
to cut the shards as they are handed to the workers. Its memory is flat in the number of rows;
the shards' rows travel to the workers as they are cut, never all at once.

Taken for the tasks that join in batches (`Task.joins_batches`) when the manifests together are
larger than RAYDEVAL_OUT_OF_CORE_BYTES (see `labels.large`), on Ray too; label jobs in this
process without analyses are counted in SQL instead (`labels`).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from raydeval.analysis import Analysis, Grid, checked, with_columns
from raydeval.engine import labels
from raydeval.engine.labels import ident, quote
from raydeval.engine.plan import JobSize
from raydeval.engine.run import shard_columns
from raydeval.errors import Problems
from raydeval.io import messages
from raydeval.io.manifest import Manifest
from raydeval.tasks.base import Context

BATCH_ROWS = 65536
GROUP_ROWS = 8192  # rows per Parquet row group of the joined files (a reader holds one per partition)
ROW, MATCHED = "raydeval_row", "raydeval_matched"


def chosen(task, gt_uri: str, pred_uri: str, storage_options: dict) -> bool:
    """Whether this job's manifests are large enough to be joined out of core."""
    return task.joins_batches and labels.large(gt_uri, pred_uri, storage_options)


def join(task, options: dict, ctx: Context) -> "StreamedRows":
    """The joined rows of a job, checked, with `ctx.analysis` prepared; raises InputError like the
    in-memory path and labels.Unreadable where DuckDB cannot read a manifest."""
    inputs = labels.hashed_inputs(ctx.gt_uri, ctx.pred_uri, ctx.storage_options)
    sizes = labels.partition_sizes()
    for partition_rows in sizes:
        rows = _joined(task, options, ctx, inputs, partition_rows, last=partition_rows == sizes[-1])
        if rows:
            return rows


def _joined(task, options: dict, ctx: Context, inputs: dict, partition_rows: int, last: bool):
    """The joined rows, hash-partitioned beyond `partition_rows` rows; None if DuckDB ran out of
    memory (unless `last`)."""
    import duckdb

    folder = tempfile.mkdtemp(prefix="raydeval-join-")
    try:
        with labels.connect(folder) as con:
            try:
                checks = labels.open_views(con, folder, ctx.gt_uri, ctx.pred_uri, ctx.storage_options, inputs,
                                           partition_rows, numbered=True)
                checks.ids()
                matched = _write(con, checks, folder)
            except duckdb.OutOfMemoryException:
                if last:
                    raise
                shutil.rmtree(folder, ignore_errors=True)
                return None  # smaller partitions
            except duckdb.Error as e:  # a value DuckDB cannot convert
                raise labels.Unreadable(str(e)) from None
        rows = StreamedRows(task, options, ctx, folder, inputs, checks.schemas)
        rows.check(ctx.analysis, checks.problems, inputs["pred"]["rows"] - matched)
        return rows
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _write(con, checks, folder: str) -> int:
    """Writes, per hash partition of the ids (see `labels.open_views`), `joined/K.parquet` (each GT
    row with its first prediction, sorted by GT row) and `unmatched/K.parquet` (the other prediction
    rows); the number of GT rows with a prediction. A partition is joined, then sorted: DuckDB runs
    out of memory sorting inside the join, or sorting all partitions at once beyond 10M rows."""
    gt_names, pred_names = (checks.schemas[side].names for side in ("gt", "pred"))
    repeated = any(kind[1:] == ("id", messages.DUPLICATE_ID) and kind[0] == checks.uris["pred"]
                   for kind in checks.problems.by_kind)
    # the first row of each prediction id joins; the others (when ids repeat) stay unmatched
    first = "row_number() OVER (PARTITION BY id ORDER BY raydeval_p) = 1" if repeated else "true"
    selected = ", ".join([f"g.{ident(c)} AS {ident('g:' + c)}" for c in gt_names]
                         + [f"p.{ident(c)} AS {ident('p:' + c)}" for c in pred_names])
    unmatched = ", ".join(f"{ident(c)} AS {ident('p:' + c)}" for c in pred_names)
    for folder_name in ("joined", "unmatched"):
        os.makedirs(f"{folder}/{folder_name}")
    unsorted = quote(f"{folder}/unsorted.parquet")
    for k, (numbered_gt, gt, pred) in enumerate(_parts(checks, folder, repeated)):
        con.execute(f"CREATE OR REPLACE TEMP VIEW p AS SELECT *, id IS NOT NULL AND {first} AS raydeval_first "
                    f"FROM {pred}")
        con.execute(f"COPY (SELECT {selected}, g.{ROW}, p.id IS NOT NULL AS {MATCHED} FROM {numbered_gt} AS g "
                    f"LEFT JOIN (SELECT * FROM p WHERE raydeval_first) AS p ON g.id = p.id) TO {unsorted} "
                    "(FORMAT parquet)")
        con.execute(f"COPY (SELECT * FROM read_parquet({unsorted}) ORDER BY {ROW}) TO "  # small row groups: read
                    f"{quote(f'{folder}/joined/{k:06d}.parquet')} (FORMAT parquet, ROW_GROUP_SIZE {GROUP_ROWS})")
        con.execute(f"COPY (SELECT {unmatched} FROM p WHERE NOT raydeval_first OR id NOT IN (SELECT id FROM {gt} "
                    f"WHERE id IS NOT NULL)) TO {quote(f'{folder}/unmatched/{k:06d}.parquet')} (FORMAT parquet)")
    os.remove(f"{folder}/unsorted.parquet")
    return con.execute(f"SELECT count(*) FROM read_parquet({quote(folder + '/joined/*.parquet')}) "
                       f"WHERE {MATCHED}").fetchall()[0][0]


def _parts(checks, folder: str, repeated: bool):
    """(GT rows numbered, GT rows, prediction rows) of each hash partition of the ids. GT rows are
    numbered by their place in the GT (`raydeval_row`), prediction rows (`raydeval_p`) where their
    ids repeat."""
    if checks.partitions == 1:
        pred = "(SELECT row_number() OVER () AS raydeval_p, * FROM pred)" if repeated else "pred"
        yield f"(SELECT row_number() OVER () AS {ROW}, * FROM gt)", "gt", pred
        return
    for k in range(checks.partitions):
        gt, pred = (f"{folder}/{side}/raydeval_part={k}" for side in ("gt", "pred"))
        gt = (f"read_parquet({quote(gt + '/*.parquet')})" if os.path.isdir(gt)
              else f"(SELECT NULL::BIGINT AS {ROW}, * FROM gt LIMIT 0)")
        pred = (f"(SELECT {ROW} AS raydeval_p, * EXCLUDE ({ROW}) FROM read_parquet({quote(pred + '/*.parquet')}))"
                if os.path.isdir(pred) else "(SELECT NULL::BIGINT AS raydeval_p, * FROM pred LIMIT 0)")
        yield gt, gt, pred


class StreamedRows:
    """The joined rows on disk (see the module), read in batches; like `run.TableRows`."""

    def __init__(self, task, options: dict, ctx: Context, folder: str, inputs: dict, schemas: dict):
        self.task, self.options, self.ctx, self.folder, self.inputs = task, options, ctx, folder, inputs
        self.gt_names, self.pred_names = schemas["gt"].names, schemas["pred"].names
        self.num_rows = inputs["gt"]["rows"]
        self.analysis, self.column_names, self.small = Analysis(), [], True
        self._first_ids: dict[tuple[int, int], str] = {}

    def close(self) -> None:
        """Removes the joined rows' folder."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def check(self, analysis: Analysis, problems: Problems, extra: int) -> None:
        """Every row checked by the task's own `join` (raises InputError with the problems of
        all rows, ids' problems from SQL included), then the analysis (as the in-memory path
        does); sizes the job and prepares the analysis."""
        size, grid, first = JobSize(self.task, self.ctx), Grid(), None
        for raw in self._batches("joined"):
            table, gt, found = self._join(raw)
            problems = _merged(problems, found)
            size.add(table)
            if analysis.bootstrap and "pred_score" in table.column_names:
                grid.add(table.column("pred_score").to_numpy())
            first = first or (table.slice(0, 1), gt.slice(0, 1))
        no_gt = self._no_gt_rows()
        for raw in self._batches("unmatched"):
            problems = _merged(problems, self._join(raw, no_gt)[2])
        problems.extra = {self.ctx.pred_uri: extra}
        problems.raise_if_any()
        if analysis:
            analysis = checked(self.task, self.ctx.gt_uri, self.gt_names, analysis)
        self.column_names = with_columns(*first, analysis).column_names
        self.analysis, self.small = grid.done(analysis), size.small()

    def _files(self, name: str) -> list[str]:
        return [f"{self.folder}/{name}/{f}" for f in sorted(os.listdir(f"{self.folder}/{name}"))]

    def _batches(self, name: str):
        """Batches of the `unmatched` rows, or of the `joined` rows in GT order (BATCH_ROWS rows
        each): each partition's file is sorted by GT row, so the rows of a batch are a prefix of
        each, merged by one sort of the batch."""
        if name == "unmatched":
            for path in self._files(name):
                yield from (pa.Table.from_batches([b]) for b in _reader(path, BATCH_ROWS))
            return
        files = self._files(name)
        readers = [_reader(path, max(1024, BATCH_ROWS // len(files))) for path in files]
        held = [pa.Table.from_batches([], pq.read_schema(path)) for path in files]
        for stop in range(BATCH_ROWS, self.num_rows + BATCH_ROWS, BATCH_ROWS):  # GT rows are numbered from 1
            pieces = []
            for k, reader in enumerate(readers):
                while held[k].num_rows == 0 or held[k].column(ROW)[-1].as_py() <= stop:
                    batch = next(reader, None)
                    if batch is None:
                        break
                    held[k] = pa.concat_tables([held[k], pa.Table.from_batches([batch])])
                taken = int(np.searchsorted(held[k].column(ROW).to_numpy(), stop, side="right"))
                pieces.append(held[k].slice(0, taken))
                held[k] = held[k].slice(taken)
            merged = pa.concat_tables(pieces, promote_options="default")  # files differ in nullability
            yield merged.take(pc.sort_indices(merged, [(ROW, "ascending")])).drop_columns([ROW])

    def _join(self, raw: pa.Table, no_gt: pa.Table | None = None) -> tuple[pa.Table, pa.Table, Problems]:
        """The task's joined rows of a batch of `joined` rows (or of `unmatched` rows, given the
        empty GT table `no_gt`), their GT rows and the problems found."""
        matched = no_gt is None
        gt = raw.select([f"g:{c}" for c in self.gt_names]).rename_columns(self.gt_names) if matched else no_gt
        pred = raw.filter(raw.column(MATCHED)) if matched else raw
        pred = pred.select([f"p:{c}" for c in self.pred_names]).rename_columns(self.pred_names)
        problems = Problems()
        table = self.task.join(Manifest(self.ctx.gt_uri, gt, ""), Manifest(self.ctx.pred_uri, pred, ""),
                               self.options, problems)
        return table, gt, problems

    def _no_gt_rows(self) -> pa.Table:
        """An empty GT table of the joined rows' GT columns (what unmatched predictions join with)."""
        schema = pq.read_schema(self._files("joined")[0])
        return pa.schema([(c, schema.field(f"g:{c}").type) for c in self.gt_names]).empty_table()

    def shards(self, bounds: list[tuple[int, int]], todo: list[int], columns: list[str]):
        """(index, shard) of the shards `todo` (in order), cut from the joined rows as they are read."""
        batches, held, held_from = self._batches("joined"), [], 0  # held: batches read, from row held_from
        for i in todo:
            start, stop = bounds[i]
            while held_from + sum(b.num_rows for b in held) < stop:
                held.append(next(batches))
                while held and held_from + held[0].num_rows <= start:  # wholly before this shard
                    held_from += held.pop(0).num_rows
            raw = pa.concat_tables(held).slice(start - held_from, stop - start)
            table, gt, _ = self._join(raw)
            table = with_columns(table, gt, self.analysis)
            self._first_ids[bounds[i]] = table.column("id")[0].as_py()
            yield i, shard_columns(table.select(columns), bounds[i])

    def first_id(self, bounds: tuple[int, int]) -> str:
        return self._first_ids.get(bounds, "?")


def _reader(path: str, rows: int):
    """Batches of `rows` rows of a Parquet file, read one row group at a time (pre-buffering, the
    default, holds the whole file: a partition's joined rows, times the partitions read at once)."""
    return pq.ParquetFile(path, pre_buffer=False).iter_batches(rows)


def _merged(problems: Problems, found: Problems) -> Problems:
    """`problems` and a batch's `found`, bounded; ids' problems come from SQL, over all rows."""
    found.discard("id", messages.EMPTY_ID)
    found.discard("id", messages.DUPLICATE_ID)
    found.extra = {}
    return problems.bounded().merge(found.bounded()).bounded()
