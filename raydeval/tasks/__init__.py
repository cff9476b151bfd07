"""The task registry: every benchmark task by name, with "did you mean" for typos.

A task's module is imported when the task is first asked for, so a worker evaluating audio
labels never imports the mask decoders and counting kernels of the image and video tasks.
"""

from __future__ import annotations

import difflib
import importlib
from functools import lru_cache

from raydeval.errors import InputError
from raydeval.tasks.base import Task

TASK_CLASSES = {
    "openmmsec-image": "raydeval.tasks.image:ImageTask",
    "openmmsec-video": "raydeval.tasks.video:VideoTask",
    "openmmsec-audio": "raydeval.tasks.audio:AudioTask",
    "temporal-localization": "raydeval.tasks.temporal:TemporalTask",
    "detection": "raydeval.tasks.detection:DetectionTask",
    "asvspoof": "raydeval.tasks.asvspoof:AsvspoofTask",
}


@lru_cache(maxsize=None)
def get_task(name: str) -> Task:
    """The task called `name`; InputError with close matches otherwise."""
    if name in TASK_CLASSES:
        module, cls = TASK_CLASSES[name].split(":")
        return getattr(importlib.import_module(module), cls)()
    close = difflib.get_close_matches(name, TASK_CLASSES, n=3, cutoff=0.4)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise InputError(f"unknown task {name!r}.{hint} Known tasks: {', '.join(TASK_CLASSES)}")


def all_tasks() -> list[Task]:
    return [get_task(name) for name in TASK_CLASSES]
