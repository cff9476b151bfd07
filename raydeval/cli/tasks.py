"""`raydeval tasks`: list tasks, their metrics and conventions."""

from __future__ import annotations

from raydeval.cli import common
from raydeval.tasks import all_tasks


def add_parser(sub) -> None:
    p = sub.add_parser("tasks", help="list tasks, their metrics and conventions")
    p.set_defaults(run=run)


def run(args) -> int:
    for task in all_tasks():
        print(f"{task.name}: {task.summary}")
        if task.headline:
            weights = ", ".join(f"{float(w):g}·{m}" for m, w in zip(task.headline, task.default_weights))
            print(f"  score = {weights}; extras: {', '.join(task.extras)}")
        else:
            print(f"  metrics: {', '.join(task.extras)}")
        for name, conv in task.conventions.items():
            choices = f" [{'|'.join(conv.choices)}]" if conv.choices else ""
            print(f"  {name} = {conv.default}{choices}  {conv.help}")
    return common.EXIT_OK
