"""Per-sample contributions of a shard, and the states summed from them.

A task's `samples()` gives, for each sample of a shard, its integer counts (its share of TP, FP,
pixel counts, ...), its value in each mean (per-sample F1, tIoU, vIoU; NaN where the sample does
not enter), its score and label for the rank metrics, and output columns. Every state is a sum of
these: the shard's own, a group's (the samples of one group value) and a bootstrap replicate's
(each sample weighted by how often the replicate draws it) — so all of them are exact and
mergeable in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from raydeval.state import ScoreCounts, State


@dataclass
class Mean:
    """The per-sample values of one mean: its exact sum goes to `State.sums[key]` and the number
    of samples entering it to `State.counts[count]`; NaN marks a sample that does not enter."""

    key: str
    count: str
    values: np.ndarray


@dataclass
class Samples:
    """Per-sample arrays of one shard, in shard order. `means` is keyed by the per-sample column
    name (`pixel_f1`, `tiou`, `viou`); `outputs` are per-sample columns that sum into nothing."""

    counts: dict[str, np.ndarray]
    means: dict[str, Mean] = field(default_factory=dict)
    scores: np.ndarray | None = None
    labels: np.ndarray | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.counts["samples"])


def label_samples(shard: dict) -> Samples:
    """Sample-level confusion counts (0/1 per sample), scores and predicted labels of a shard."""
    truth = np.asarray(shard["gt_label"], dtype=bool)
    guess = np.asarray(shard["pred_label"], dtype=bool)
    counts = {"samples": np.ones(truth.size, np.int64)}
    for name, cell in (("tp", truth & guess), ("fp", ~truth & guess), ("fn", truth & ~guess),
                       ("tn", ~truth & ~guess)):
        counts[name] = cell.astype(np.int64)
    out = Samples(counts, outputs={"pred_label": guess.astype(np.int8)})
    if "pred_score" in shard:
        out.scores = np.asarray(shard["pred_score"], dtype=np.float64)
        out.labels = truth
        out.outputs["score"] = out.scores
    return out


def sum_state(samples: Samples, select: np.ndarray | None = None) -> State:
    """The state of the selected samples (all when `select` is None; a boolean mask otherwise)."""
    state = State()
    for key, values in samples.counts.items():
        state.counts[key] = int(values.sum() if select is None else values[select].sum())
    for mean in samples.means.values():
        entering = ~np.isnan(mean.values) if select is None else select & ~np.isnan(mean.values)
        state.add_mean(mean.key, mean.values[entering], mean.count)
    if samples.scores is not None:
        scores, labels = (samples.scores, samples.labels) if select is None else \
            (samples.scores[select], samples.labels[select])
        state.scores = ScoreCounts.of(scores, labels)
    return state

