"""Input problems: collected, grouped by kind, reported once with exit status 2."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_IDS_SHOWN = 20


class InputError(Exception):
    """Bad input or bad usage: the message is shown as is, the process exits with 2."""


@dataclass
class Problems:
    """Offending ids grouped by (file, column, what is wrong); mergeable across shards."""

    by_kind: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    def add(self, file: str, column: str, what: str, ids) -> None:
        ids = [str(i) for i in ids]
        if ids:
            self.by_kind.setdefault((file, column, what), []).extend(ids)

    def merge(self, other: "Problems") -> "Problems":
        for (file, column, what), ids in other.by_kind.items():
            self.add(file, column, what, ids)
        return self

    def __bool__(self) -> bool:
        return bool(self.by_kind)

    def message(self) -> str:
        lines = []
        for (file, column, what), ids in sorted(self.by_kind.items()):
            ids = sorted(set(ids))
            shown = ", ".join(ids[:MAX_IDS_SHOWN])
            more = f" (and {len(ids) - MAX_IDS_SHOWN} more)" if len(ids) > MAX_IDS_SHOWN else ""
            where = f"{file}, column `{column}`" if column else file
            lines.append(f"{where}: {what} — {len(ids)} id(s): {shown}{more}")
        return "\n".join(lines)

    def raise_if_any(self) -> None:
        if self:
            raise InputError(self.message())


class ShardFailure(Exception):
    """A shard that failed on every attempt, not because of its input: exit status 1. The message
    names the shard, its first sample id and the worker's error; `detail` holds the worker's
    traceback where there is one."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail
