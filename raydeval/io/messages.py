"""The wording of manifest problems: one place for the in-memory checks (io.columns, tasks.base)
and the out-of-core ones (engine.labels), which must say exactly the same."""

from __future__ import annotations

BAD_LABEL = "expected 0 or 1"
BAD_SCORE = "expected a finite number in [0, 1] (NaN, inf, empty or out of range)"
DUPLICATE_ID = "duplicate id"
EMPTY_ID = "empty id"


def missing_columns(uri: str, missing: list[str], present: list[str]) -> str:
    return (f"{uri}: missing column(s) {', '.join(f'`{c}`' for c in missing)} "
            f"(columns present: {', '.join(present) or 'none'})")


def text_ids(uri: str, kind) -> str:
    return f"{uri}, column `id`: expected text ids, got {kind} (write ids as strings, e.g. \"000123\")"


def wrong_type(uri: str, column: str, expected: str, kind) -> str:
    return f"{uri}, column `{column}`: expected {expected}, got {kind}"


def no_label_or_score(uri: str) -> str:
    return f"{uri}: needs a `label` or a `score` column (or both)"


def no_rows(uri: str) -> str:
    return f"{uri}: the GT manifest has no rows"


def missing_ids(negative: str | None = "predicted real") -> str:
    """What GT ids without a prediction are (`negative`: how --missing negative scores them)."""
    hint = f" (use --missing negative to score them as {negative})" if negative else ""
    return f"GT id missing from the predictions{hint}"


def extra_ids(uri: str, count: int) -> str:
    return f"raydeval: warning: {uri}: {count} prediction id(s) not in the GT manifest are ignored"
