"""Input problems: collected, grouped by kind, reported once with exit status 2."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

MAX_IDS_SHOWN = 20


def first_line(error: BaseException) -> str:
    """The first non-empty line of an error's message (its type where it has none)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


class InputError(Exception):
    """Bad input or bad usage: the message is shown as is, the process exits with 2."""


@dataclass
class Problems:
    """Offending ids grouped by (file, column, what is wrong); mergeable across shards."""

    by_kind: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    totals: dict[tuple[str, str, str], int] = field(default_factory=dict)  # where only some ids are kept
    extra: dict[str, int] = field(default_factory=dict)  # prediction rows matching no GT row, per file (a warning)

    def add(self, file: str, column: str, what: str, ids, total: int | None = None) -> None:
        """Offending ids of one kind; `total` counts them when `ids` holds only the first few."""
        ids = [str(i) for i in ids]
        if ids:
            self.by_kind.setdefault((file, column, what), []).extend(ids)
        if total:
            self.totals[(file, column, what)] = total

    def merge(self, other: "Problems") -> "Problems":
        for (file, column, what), ids in other.by_kind.items():
            self.add(file, column, what, ids)
        for kind, total in other.totals.items():
            self.totals[kind] = self.totals.get(kind, 0) + total
        for file, count in other.extra.items():
            self.extra[file] = self.extra.get(file, 0) + count
        return self

    def bounded(self) -> "Problems":
        """The same problems with at most the MAX_IDS_SHOWN first ids of each kind kept and the
        rest counted (merging bounded problems of disjoint rows sums their counts)."""
        out = Problems(extra=dict(self.extra))
        for kind, ids in self.by_kind.items():
            ids = sorted(set(ids))
            out.by_kind[kind] = ids[:MAX_IDS_SHOWN]
            out.totals[kind] = max(len(ids), self.totals.get(kind, 0))
        return out

    def discard(self, column: str, what: str) -> None:
        """Drops the problems of one kind in every file."""
        for kind in [k for k in self.by_kind if k[1:] == (column, what)]:
            del self.by_kind[kind]
            self.totals.pop(kind, None)

    def __bool__(self) -> bool:
        return bool(self.by_kind)

    def message(self) -> str:
        lines = []
        for kind, ids in sorted(self.by_kind.items()):
            file, column, what = kind
            ids = sorted(set(ids))
            count = max(len(ids), self.totals.get(kind, 0))
            shown = ", ".join(ids[:MAX_IDS_SHOWN])
            more = f" (and {count - MAX_IDS_SHOWN} more)" if count > MAX_IDS_SHOWN else ""
            where = f"{file}, column `{column}`" if column else file
            lines.append(f"{where}: {what} — {count} id(s): {shown}{more}")
        return "\n".join(lines)

    def raise_if_any(self) -> None:
        """Prints the warnings (extra predictions), then raises InputError if there are problems."""
        from raydeval.io.messages import extra_ids

        for file, count in self.extra.items():
            if count > 0:
                print(extra_ids(file, count), file=sys.stderr)
        if self:
            raise InputError(self.message())


class ShardFailure(Exception):
    """A shard that failed on every attempt, not because of its input: exit status 1. The message
    names the shard, its first sample id and the worker's error; `detail` holds the worker's
    traceback where there is one."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail
