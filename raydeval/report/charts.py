"""Data → chart: each function draws one matplotlib Figure (no pyplot state); `svg` renders it.

Every string that reaches a chart goes through `plain`, so a `$` in a group value is shown as
it is instead of starting mathtext. Text is written as SVG `<text>` (`svg.fonttype: none`),
which matplotlib escapes (`&`, `<`, `>`); the page inserts the SVG as it is.
"""

from __future__ import annotations

import functools
import io
from statistics import NormalDist

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

RC = {"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
      "axes.grid": True, "grid.alpha": 0.3, "legend.fontsize": 8, "legend.framealpha": 0.85}
LABEL_CHARS = 28  # longer group values are cut in a chart (the tables show them whole)


def plain(text) -> str:
    """`text` as matplotlib shows it literally (no mathtext)."""
    return str(text).replace("$", r"\$")


def short(text) -> str:
    """`plain(text)`, cut to LABEL_CHARS characters."""
    text = str(text)
    return plain(text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…")


def tick(category, n, rotated: bool) -> str:
    """A category's axis label, with its sample count `n` when known."""
    if n is None:
        return short(category)
    return f"{short(category)} (n={n})" if rotated else f"{short(category)}\nn={n}"


def svg(fig: Figure, salt: str) -> str:
    """The figure as an inline `<svg>` element (no XML prolog, no metadata); `salt` keeps the ids
    its parts refer to (clip paths, markers) apart from other charts'."""
    buf = io.StringIO()
    with rc_context({**RC, "svg.hashsalt": salt}):
        FigureCanvasSVG(fig).print_svg(buf, metadata=dict.fromkeys(("Creator", "Date", "Format", "Type")))
    text = buf.getvalue()
    return text[text.index("<svg"):]


def styled(draw):
    """Run a drawing function under the charts' style (rcParams are read as artists are made)."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with rc_context(RC):
            return draw(*args, **kwargs)
    return wrapper


def new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


@styled
def grouped_bars(title: str, categories: list[str], series: dict[str, list], errors: dict[str, list],
                 ylabel: str, xlabel: str, counts: list | None = None) -> Figure:
    """Bars per category for each series; `errors[name][i]` is (lo, hi) or None; null values
    are marked n/a; `counts` (n per category) go under the category labels."""
    width = min(max(4.8, 1.2 + 0.35 * len(categories) * max(len(series), 1)), 16)
    fig = new_figure(width, 3.6)
    ax = fig.add_subplot()
    x = np.arange(len(categories))
    step = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        pos = x - 0.4 + step * (i + 0.5)
        heights = [np.nan if v is None else v for v in values]
        yerr = np.array([[0.0, 0.0] if e is None or v is None else [max(v - e[0], 0), max(e[1] - v, 0)]
                         for v, e in zip(values, errors.get(name, [None] * len(values)))]).T
        ax.bar(pos, heights, step * 0.92, yerr=yerr if np.any(yerr) else None, capsize=3,
               label=plain(name), error_kw={"elinewidth": 1, "ecolor": "#333"})
        for p, v in zip(pos, values):
            if v is None:
                ax.text(p, 0.01, "n/a", ha="center", va="bottom", rotation=90, fontsize=7, color="#666")
    rotate = len(categories) > 6 or max((len(c) for c in categories), default=0) > 14
    ticks = [tick(c, n, rotate) for c, n in zip(categories, counts or [None] * len(categories))]
    ax.set_xticks(x, ticks, rotation=30 if rotate else 0, ha="right" if rotate else "center",
                  rotation_mode="anchor")
    ax.set_xlim(-0.6, len(categories) - 0.4)
    top = max([v for values in series.values() for v in values if v is not None]
              + [e[1] for errs in errors.values() for e in errs if e is not None] + [1.0])
    ax.set_ylim(0, top * 1.05)
    ax.grid(axis="x", visible=False)
    ax.set_title(plain(title))
    ax.set_ylabel(plain(ylabel))
    ax.set_xlabel(plain(xlabel))
    if len(series) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    return fig


def rates(scores: dict) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(FPR, TPR) at each threshold `score >= score[k]`, from the highest threshold down,
    starting at (0, 0); and the numbers of positives and negatives."""
    pos = np.asarray(scores["pos"], dtype=np.int64)
    neg = np.asarray(scores["neg"], dtype=np.int64)
    tp = np.concatenate([[0], np.cumsum(pos[::-1])])
    fp = np.concatenate([[0], np.cumsum(neg[::-1])])
    return fp / max(fp[-1], 1), tp / max(tp[-1], 1), int(tp[-1]), int(fp[-1])


@styled
def roc(curves: list[dict]) -> Figure:
    """ROC curves; each curve: label, scores, auc and eer (or None)."""
    fig = new_figure(5.0, 4.6)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls=":", color="#999", lw=1, label="chance")
    for curve in curves:
        fpr, tpr, _, _ = rates(curve["scores"])
        auc = "" if curve["auc"] is None else f", AUC {curve['auc']:.4f}"
        line, = ax.plot(fpr, tpr, lw=1.6, label=plain(f"{curve['label']}{auc}"))
        if curve["eer"] is not None:
            ax.plot([curve["eer"]], [1 - curve["eer"]], "o", color=line.get_color(), ms=6, mfc="white",
                    label=plain(f"EER {curve['eer']:.2%}"))
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.set_aspect("equal")
    ax.legend(loc="lower right")
    return fig


DET_TICKS = (1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999, 0.9999, 0.99999)


@styled
def det(curves: list[dict]) -> Figure:
    """DET curves (miss rate against false-alarm rate) on normal-deviate axes, EER marked."""
    points = [rates(c["scores"]) for c in curves]
    most = max(max(n_pos, n_neg) for _, _, n_pos, n_neg in points)
    floor = min(1e-3, max(1e-5, 0.5 / max(most, 1)))  # rates of 0 are drawn at this edge
    probit = np.vectorize(lambda p: NormalDist().inv_cdf(min(max(p, floor), 1 - floor)))
    fig = new_figure(5.0, 4.6)
    ax = fig.add_subplot()
    edge = probit(floor), probit(1 - floor)
    ax.plot(edge, edge, ls=":", color="#999", lw=1, label="miss = false alarm")
    for curve, (fpr, tpr, _, _) in zip(curves, points):
        line, = ax.plot(probit(fpr), probit(1 - tpr), lw=1.6, label=plain(curve["label"]))
        if curve["eer"] is not None:
            ax.plot([probit(curve["eer"])], [probit(curve["eer"])], "o", color=line.get_color(), ms=6, mfc="white",
                    label=plain(f"EER {curve['eer']:.2%}"))
    ticks = [t for t in DET_TICKS if floor <= t <= 1 - floor]
    labels = [f"{t * 100:g}" for t in ticks]
    ax.set_xticks(probit(ticks), labels)
    ax.set_yticks(probit(ticks), labels)
    ax.set(xlim=edge, ylim=edge, xlabel="false alarm rate (%)", ylabel="miss rate (%)", title="DET")
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    return fig


@styled
def histogram(name: str, values: np.ndarray, nulls: int) -> Figure:
    """Per-sample values of one metric, with their mean."""
    fig = new_figure(4.6, 3.2)
    ax = fig.add_subplot()
    unit = values.min() >= 0 and values.max() <= 1
    ax.hist(values, bins=np.linspace(0, 1, 21) if unit else 20, color="#4c72b0", edgecolor="white")
    ax.axvline(values.mean(), color="#c44e52", lw=1.5, label=f"mean {values.mean():.4f}")
    ax.set_title(plain(f"{name} (n={len(values)}" + (f", {nulls} null)" if nulls else ")")))
    ax.set_xlabel(plain(name))
    ax.set_ylabel("samples")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper right")
    return fig
