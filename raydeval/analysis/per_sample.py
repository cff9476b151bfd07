"""Per-sample rows (`--per-sample`): a Parquet dataset — a folder of parts, one per shard, each
written by the worker that evaluated the shard (the driver never holds the rows) — readable with
pyarrow (`pyarrow.dataset.dataset(folder)`) and DuckDB (`read_parquet('folder/*.parquet')`).

Columns: `id`, `gt_label`, `pred_label`, `score` (when given), the sample's counts (`tp`, `fp`,
`fn`, `tn`, `pixel_tp`, `frame_tp`, ...), its value in each mean named after the metric
(`pixel_f1`, `tiou`, `viou`; null where the sample does not enter the mean, so the mean of a
column over its non-null rows is the metric) and the GT's metadata columns.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from raydeval.errors import InputError
from raydeval.io import fs
from raydeval.samples import Samples

PART = "part-{start:012d}-{stop:012d}.parquet"


def part_name(bounds: tuple[int, int]) -> str:
    return PART.format(start=bounds[0], stop=bounds[1])


def write_part(analysis, samples: Samples, shard: dict, storage_options: dict) -> None:
    columns = {"id": pa.array(shard["id"], pa.string()), "gt_label": np.asarray(shard["gt_label"], np.int8)}
    columns.update(samples.outputs)
    columns.update({key: values for key, values in samples.counts.items() if key != "samples"})
    columns.update({name: pa.array(mean.values, mask=np.isnan(mean.values)) for name, mean in samples.means.items()})
    for column in analysis.meta:
        if column not in columns:  # a metadata column never hides an evaluated one
            columns[column] = shard[f"meta:{column}"]
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    fs.write_atomic(f"{analysis.per_sample.rstrip('/')}/{part_name(shard['_rows'])}", buffer.getvalue(),
                    storage_options)


def prepare_folder(uri: str, keep: set[str], storage_options: dict) -> None:
    """Make `uri` a folder of this run's parts: parts not in `keep` (of an earlier run) removed;
    a file, or a folder holding anything but parts, is refused."""
    filesystem, path = fs.filesystem(uri, storage_options)
    if filesystem.isfile(path):
        raise InputError(f"--per-sample {uri} is a file; per-sample rows are a Parquet dataset (a folder)")
    if not filesystem.exists(path):
        if fs.is_local(uri):
            filesystem.makedirs(path, exist_ok=True)
        return
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in filesystem.ls(path, detail=False)]
    for name in [n for n in names if n.startswith(fs.TEMP_PREFIX)]:  # left by a write that was killed
        filesystem.rm(f"{path}/{name}")
        names.remove(name)
    foreign = [n for n in names if not (n.startswith("part-") and n.endswith(".parquet"))]
    if foreign:
        raise InputError(f"--per-sample {uri} holds other files ({', '.join(sorted(foreign)[:5])}): "
                         "choose an empty or new folder")
    stale = [f"{path}/{n}" for n in names if n not in keep]
    if stale:
        filesystem.rm(stale)


def remove_parts(uri: str, storage_options: dict) -> None:
    """Remove the parts written so far (bad input leaves nothing behind)."""
    filesystem, path = fs.filesystem(uri, storage_options)
    filesystem.invalidate_cache()
    if filesystem.exists(path):
        filesystem.rm(path, recursive=True)
