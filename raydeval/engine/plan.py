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
    size = JobSize(task, ctx)
    size.add(table)
    return size.small()


class JobSize:
    """The media files, frames and bytes of a job, added up over batches of its joined rows (only
    as much as the rule needs: no more than SMALL_JOB_FILES + 1 file names are kept)."""

    def __init__(self, task: Task, ctx: Context):
        self.media, self.ctx = task.media_columns(ctx), ctx
        self.files, self.frames, self.uris = 0, 0, []

    def add(self, table: pa.Table) -> None:
        columns = [table.column(c) for c in self.media if c in table.column_names]
        self.files += sum(len(c) - c.null_count for c in columns)
        if "num_frames" in table.column_names:
            self.frames += sum(pc.sum(pc.if_else(pc.is_valid(c), table.column("num_frames"), 0)).as_py() or 0
                               for c in columns)
        if self.files <= SMALL_JOB_FILES:
            self.uris += [uri for c in columns for uri in pc.drop_null(c).to_pylist()]

    def small(self) -> bool:
        if self.files == 0:
            return True
        if self.files > SMALL_JOB_FILES or self.frames > SMALL_JOB_FRAMES:
            return False
        return total_size(self.uris, self.ctx.storage_options) <= SMALL_JOB_BYTES
