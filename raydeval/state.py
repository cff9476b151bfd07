"""Mergeable partial results: integer counts, exact sums and per-score counts.

A `State` is what a shard returns. `merge` is associative and commutative and exact, so the
merged state — and every metric computed from it — is the same for any sharding and order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from raydeval.exact import exact_sum_units


@dataclass
class ScoreCounts:
    """Number of positives and negatives per distinct score, scores ascending."""

    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    neg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def of(cls, scores, labels) -> "ScoreCounts":
        """Per-score counts of finite scores with 0/1 labels."""
        labels = np.asarray(labels, dtype=bool)
        scores = np.asarray(scores, dtype=np.float64) + 0.0  # -0.0 -> 0.0: one key per value
        return cls.grouped(scores, labels.astype(np.int64), (~labels).astype(np.int64))

    @classmethod
    def grouped(cls, scores, pos, neg) -> "ScoreCounts":
        unique, inverse = np.unique(scores, return_inverse=True)
        return cls(unique, _sum_by(inverse, pos, unique.size), _sum_by(inverse, neg, unique.size))

    @classmethod
    def merged(cls, parts: list["ScoreCounts"]) -> "ScoreCounts":
        """All parts' counts per distinct score, grouped in one pass."""
        return cls.grouped(np.concatenate([p.scores for p in parts]),
                            np.concatenate([p.pos for p in parts]),
                            np.concatenate([p.neg for p in parts]))

    def __eq__(self, other) -> bool:
        return (isinstance(other, ScoreCounts) and np.array_equal(self.scores, other.scores)
                and np.array_equal(self.pos, other.pos) and np.array_equal(self.neg, other.neg))


def _sum_by(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per-group sums of integer counts (exact: float64 bins hold integers below 2**53)."""
    return np.bincount(groups, weights=values, minlength=size).astype(np.int64)


@dataclass
class Replicates:
    """Bootstrap replicates of a state: per replicate, its counts and exact sums, and (optional)
    its per-score positive/negative counts on a fixed grid of scores. Merged by adding."""

    counts: dict[str, np.ndarray] = field(default_factory=dict)  # int64 [R]
    sums: dict[str, list[int]] = field(default_factory=dict)  # exact units per replicate
    scores: np.ndarray | None = None  # int64 [R, D, 2]: (pos, neg) per grid score

    @classmethod
    def merged(cls, parts: list["Replicates"]) -> "Replicates":
        out = cls()
        for part in parts:
            for key, values in part.counts.items():
                out.counts[key] = out.counts[key] + values if key in out.counts else values.copy()
            for key, units in part.sums.items():
                out.sums[key] = [a + b for a, b in zip(out.sums[key], units)] if key in out.sums else list(units)
            if part.scores is not None:
                out.scores = part.scores.copy() if out.scores is None else out.scores + part.scores
        return out

    def __eq__(self, other) -> bool:
        return (isinstance(other, Replicates) and self.sums == other.sums
                and self.counts.keys() == other.counts.keys()
                and all(np.array_equal(v, other.counts[k]) for k, v in self.counts.items())
                and (self.scores is None) == (other.scores is None)
                and (self.scores is None or np.array_equal(self.scores, other.scores)))


@dataclass
class State:
    """Counts (ints), exact sums (ints in 2**-1074 units), optional per-score counts, and for the
    analyses: the states of group cells by (column, value, part) and bootstrap replicates."""

    counts: dict[str, int] = field(default_factory=dict)
    sums: dict[str, int] = field(default_factory=dict)
    scores: ScoreCounts | None = None
    cells: dict[tuple[str, str, str], "State"] = field(default_factory=dict)
    replicates: Replicates | None = None

    def add(self, **counts: int) -> None:
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + int(value)

    def add_sum(self, key: str, units: int) -> None:
        self.sums[key] = self.sums.get(key, 0) + units

    def add_mean(self, key: str, values, count: str) -> None:
        """Per-sample float64 values of a mean: their exact sum under `key`, their number under `count`."""
        self.add_sum(key, exact_sum_units(values))
        self.add(**{count: len(values)})

    @classmethod
    def merged(cls, states: list["State"]) -> "State":
        """The exact sum of many states (per-score counts grouped once, not pair by pair)."""
        out = cls()
        cells: dict = {}
        for state in states:
            out.add(**state.counts)
            for key, units in state.sums.items():
                out.add_sum(key, units)
            for key, cell in state.cells.items():
                cells.setdefault(key, []).append(cell)
        scores = [s.scores for s in states if s.scores is not None]
        out.scores = ScoreCounts.merged(scores) if scores else None
        out.cells = {key: cls.merged(parts) for key, parts in sorted(cells.items())}
        replicates = [s.replicates for s in states if s.replicates is not None]
        out.replicates = Replicates.merged(replicates) if replicates else None
        return out

    def merge(self, other: "State") -> "State":
        return State.merged([self, other])


# --- persisted form (shard states on disk or in object storage; JSON, never pickle) ----------

def state_to_dict(state: State) -> dict:
    """A JSON-able form of a state that `state_from_dict` restores exactly (ints as ints, exact
    sums as text, arrays as little-endian bytes in base64)."""
    out = {"counts": state.counts, "sums": {k: _int_text(v) for k, v in state.sums.items()}, "scores": None,
           "cells": [[*key, state_to_dict(cell)] for key, cell in state.cells.items()], "replicates": None}
    if state.scores is not None:
        out["scores"] = {name: _b64(getattr(state.scores, name), dtype)
                         for name, dtype in (("scores", "<f8"), ("pos", "<i8"), ("neg", "<i8"))}
    rep = state.replicates
    if rep is not None:
        out["replicates"] = {"counts": {k: _b64(v, "<i8") for k, v in rep.counts.items()},
                             "sums": {k: [_int_text(u) for u in v] for k, v in rep.sums.items()},
                             "scores": None if rep.scores is None else [list(rep.scores.shape), _b64(rep.scores, "<i8")]}
    return out


def state_from_dict(data: dict) -> State:
    """The state of `state_to_dict`; ValueError for anything not of that form."""
    if not isinstance(data, dict) or set(data) != {"counts", "sums", "scores", "cells", "replicates"}:
        raise ValueError("not a shard state")
    counts, sums, scores = data["counts"], data["sums"], data["scores"]
    if not (_str_keys(counts) and all(type(v) is int for v in counts.values())):
        raise ValueError("counts must be integers")
    if not (_str_keys(sums) and all(isinstance(v, str) for v in sums.values())):
        raise ValueError("sums must be integers as text")
    state = State(dict(counts), {k: _text_int(v) for k, v in sums.items()})
    if scores is not None:
        if not isinstance(scores, dict) or set(scores) != {"scores", "pos", "neg"}:
            raise ValueError("per-score counts must have scores, pos and neg")
        arrays = [_unb64(scores[name], dtype) for name, dtype in (("scores", "<f8"), ("pos", "<i8"), ("neg", "<i8"))]
        if len({a.size for a in arrays}) != 1:
            raise ValueError("per-score arrays differ in length")
        state.scores = ScoreCounts(*arrays)
    if not isinstance(data["cells"], list):
        raise ValueError("cells must be a list")
    for cell in data["cells"]:
        if not (isinstance(cell, list) and len(cell) == 4 and all(isinstance(k, str) for k in cell[:3])):
            raise ValueError("a cell is [column, value, part, state]")
        state.cells[tuple(cell[:3])] = state_from_dict(cell[3])
    if data["replicates"] is not None:
        state.replicates = _replicates_from_dict(data["replicates"])
    return state


def _replicates_from_dict(data) -> Replicates:
    if not isinstance(data, dict) or set(data) != {"counts", "sums", "scores"}:
        raise ValueError("not bootstrap replicates")
    if not (_str_keys(data["counts"]) and _str_keys(data["sums"])):
        raise ValueError("replicate keys must be text")
    out = Replicates({k: _unb64(v, "<i8") for k, v in data["counts"].items()})
    for key, units in data["sums"].items():
        if not (isinstance(units, list) and all(isinstance(u, str) for u in units)):
            raise ValueError("replicate sums must be integers as text")
        out.sums[key] = [_text_int(u) for u in units]
    if data["scores"] is not None:
        shape, text = data["scores"]
        out.scores = _unb64(text, "<i8").reshape([int(n) for n in shape])
    if len({len(v) for v in [*out.counts.values(), *out.sums.values()]}) > 1:
        raise ValueError("replicates differ in number")
    return out


def _int_text(value: int) -> str:
    """An exact sum as short text: `m<<k` for m·2^k (sums in 2**-1074 units end in many zeros)."""
    if value == 0:
        return "0"
    shift = (value & -value).bit_length() - 1
    return f"{value >> shift}<<{shift}"


MAX_SHIFT = 1 << 12  # exact sums are multiples of 2**-1074 of sums of values below 2**1024


def _text_int(text: str) -> int:
    mantissa, _, shift = text.partition("<<")
    if not (mantissa.lstrip("-").isdigit() and len(mantissa) < 400 and (not shift or shift.isdigit())
            and int(shift or 0) <= MAX_SHIFT):
        raise ValueError(f"not an exact sum: {text[:40]!r}")
    return int(mantissa) << int(shift or 0)


def _str_keys(d) -> bool:
    return isinstance(d, dict) and all(isinstance(k, str) for k in d)


def _b64(array: np.ndarray, dtype: str) -> str:
    import base64

    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _unb64(text, dtype: str) -> np.ndarray:
    import base64
    import binascii

    if not isinstance(text, str):
        raise ValueError("expected base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise ValueError(str(e)) from None
    if len(raw) % 8:
        raise ValueError("truncated array")
    return np.frombuffer(raw, dtype=dtype).astype(dtype[1:])
