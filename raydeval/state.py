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
        return cls._grouped(scores, labels.astype(np.int64), (~labels).astype(np.int64))

    @classmethod
    def _grouped(cls, scores, pos, neg) -> "ScoreCounts":
        unique, inverse = np.unique(scores, return_inverse=True)
        return cls(unique, _sum_by(inverse, pos, unique.size), _sum_by(inverse, neg, unique.size))

    @classmethod
    def merged(cls, parts: list["ScoreCounts"]) -> "ScoreCounts":
        """All parts' counts per distinct score, grouped in one pass."""
        return cls._grouped(np.concatenate([p.scores for p in parts]),
                            np.concatenate([p.pos for p in parts]),
                            np.concatenate([p.neg for p in parts]))

    def __eq__(self, other) -> bool:
        return (isinstance(other, ScoreCounts) and np.array_equal(self.scores, other.scores)
                and np.array_equal(self.pos, other.pos) and np.array_equal(self.neg, other.neg))


def _sum_by(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per-group sums of integer counts (exact: float64 bins hold integers below 2**53)."""
    return np.bincount(groups, weights=values, minlength=size).astype(np.int64)


@dataclass
class State:
    """Counts (ints), exact sums (ints in 2**-1074 units) and optional per-score counts."""

    counts: dict[str, int] = field(default_factory=dict)
    sums: dict[str, int] = field(default_factory=dict)
    scores: ScoreCounts | None = None

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
        for state in states:
            out.add(**state.counts)
            for key, units in state.sums.items():
                out.add_sum(key, units)
        scores = [s.scores for s in states if s.scores is not None]
        out.scores = ScoreCounts.merged(scores) if scores else None
        return out

    def merge(self, other: "State") -> "State":
        return State.merged([self, other])


# --- persisted form (shard states on disk or in object storage; JSON, never pickle) ----------

def state_to_dict(state: State) -> dict:
    """A JSON-able form of a state that `state_from_dict` restores exactly (ints as ints, big
    exact sums as decimal text, per-score arrays as little-endian bytes in base64)."""
    out = {"counts": state.counts, "sums": {k: str(v) for k, v in state.sums.items()}, "scores": None}
    if state.scores is not None:
        out["scores"] = {name: _b64(getattr(state.scores, name), dtype)
                         for name, dtype in (("scores", "<f8"), ("pos", "<i8"), ("neg", "<i8"))}
    return out


def state_from_dict(data: dict) -> State:
    """The state of `state_to_dict`; ValueError for anything not of that form."""
    if not isinstance(data, dict) or set(data) != {"counts", "sums", "scores"}:
        raise ValueError("not a shard state")
    counts, sums, scores = data["counts"], data["sums"], data["scores"]
    if not (_str_keys(counts) and all(type(v) is int for v in counts.values())):
        raise ValueError("counts must be integers")
    if not (_str_keys(sums) and all(isinstance(v, str) for v in sums.values())):
        raise ValueError("sums must be integers as text")
    state = State(dict(counts), {k: int(v) for k, v in sums.items()})
    if scores is not None:
        if not isinstance(scores, dict) or set(scores) != {"scores", "pos", "neg"}:
            raise ValueError("per-score counts must have scores, pos and neg")
        arrays = [_unb64(scores[name], dtype) for name, dtype in (("scores", "<f8"), ("pos", "<i8"), ("neg", "<i8"))]
        if len({a.size for a in arrays}) != 1:
            raise ValueError("per-score arrays differ in length")
        state.scores = ScoreCounts(*arrays)
    return state


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
