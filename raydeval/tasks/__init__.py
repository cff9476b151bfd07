"""The task registry: every benchmark task by name, with "did you mean" for typos."""

from __future__ import annotations

import difflib

from raydeval.errors import InputError
from raydeval.tasks.audio import AudioTask
from raydeval.tasks.base import Task
from raydeval.tasks.image import ImageTask
from raydeval.tasks.video import VideoTask

TASKS: dict[str, Task] = {t.name: t for t in (ImageTask(), VideoTask(), AudioTask())}


def get_task(name: str) -> Task:
    """The task called `name`; InputError with close matches otherwise."""
    if name in TASKS:
        return TASKS[name]
    close = difflib.get_close_matches(name, TASKS, n=3, cutoff=0.4)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise InputError(f"unknown task {name!r}.{hint} Known tasks: {', '.join(TASKS)}")
