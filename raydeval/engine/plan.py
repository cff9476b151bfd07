"""Where a job runs: small jobs in the command's own process, the rest on Ray.

Starting Ray costs seconds (about 4–6 s on a 2-core machine, more than a small job's whole work),
so without `--address` a job runs in this process when it is small by this rule:
* it reads no media files (label tracks, at any size), or
* it reads at most SMALL_JOB_FILES media files, together at most SMALL_JOB_BYTES, and (mask
  videos) at most SMALL_JOB_FRAMES frames by the GT's `num_frames`.
Results never depend on where shards run.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from raydeval.io.fs import total_size
from raydeval.tasks.base import Context, Task

SMALL_JOB_FILES = 256
SMALL_JOB_BYTES = 32 * 2**20
SMALL_JOB_FRAMES = 20_000


def runs_in_process(task: Task, table: pa.Table, ctx: Context) -> bool:
    """Whether the job is small enough to skip Ray (see the module's rule)."""
    columns = [table.column(c) for c in task.media_columns(ctx) if c in table.column_names]
    files = sum(len(c) - c.null_count for c in columns)
    if files == 0:
        return True
    if files > SMALL_JOB_FILES:
        return False
    if "num_frames" in table.column_names:
        frames = sum(pc.sum(pc.if_else(pc.is_valid(c), table.column("num_frames"), 0)).as_py() or 0
                     for c in columns)
        if frames > SMALL_JOB_FRAMES:
            return False
    uris = [uri for c in columns for uri in c.to_pylist() if uri is not None]
    return total_size(uris, ctx.storage_options) <= SMALL_JOB_BYTES
