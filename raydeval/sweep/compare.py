"""The pure decisions of a sweep: skip a job, find regressions, the exit status."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from raydeval.cli.common import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_REGRESSION

LOWER_IS_BETTER = frozenset({"eer"})  # every other raydeval metric is higher-is-better
FINGERPRINT = ("task", "gt_sha256", "pred_sha256", "conventions")  # what makes a result reusable


@dataclass(frozen=True)
class Change:
    """A metric that moved since the previous result of the same job."""

    metric: str
    old: float | None
    new: float | None
    regression: bool


def should_skip(previous: dict | None, current: dict) -> bool:
    """True when the previous result (a history row) had the same task, input hashes and conventions."""
    return previous is not None and all(previous[key] == current[key] for key in FINGERPRINT)


def compare(old: dict, new: dict, tolerance: dict) -> list[Change]:
    """Metrics whose value changed from `old` to `new` (missing = null).

    A regression is a worsening larger than the metric's tolerance (`tolerance[metric]`, else
    `tolerance["default"]`, else 0), compared exactly on the decimals the results show: a drop,
    or for `eer` a rise; a number becoming null is a regression too.
    """
    changes = []
    for metric in [*new, *(m for m in old if m not in new)]:
        a, b = old.get(metric), new.get(metric)
        if a == b or not (is_number(a) or is_number(b)):
            continue
        if not is_number(a) or not is_number(b):
            changes.append(Change(metric, a if is_number(a) else None, b if is_number(b) else None, is_number(a)))
            continue
        worse = Fraction(repr(a)) - Fraction(repr(b))
        if metric in LOWER_IS_BETTER:
            worse = -worse
        allowed = tolerance.get(metric, tolerance.get("default", 0))
        changes.append(Change(metric, a, b, worse > Fraction(repr(allowed))))
    return changes


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def exit_status(statuses) -> int:
    """3 if any job regressed, else 2 if any had bad input, else 1 if any crashed, else 0."""
    statuses = set(statuses)
    for status, code in (("regression", EXIT_REGRESSION), ("bad-input", EXIT_INPUT), ("crashed", EXIT_INTERNAL)):
        if status in statuses:
            return code
    return EXIT_OK
