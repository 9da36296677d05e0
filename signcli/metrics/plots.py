"""confusion.png: the confusion matrix drawn so that a person can read it.

Up to MAX_HEATMAP_CLASSES classes, a full heatmap (colour = share of the true class, text =
count); beyond that a heatmap is unreadable, so a bar chart of the most confused
(true -> predicted) pairs. Uses matplotlib's object API with the Agg canvas (no pyplot, no
global backend switch, no display needed), imported inside the function.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from signcli.core.atomic import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_HEATMAP_CLASSES = 30  # 30 x 30 annotated cells still fit a 14-inch figure
MOST_CONFUSED = 20  # bars in the chart for larger class counts
MAX_LABEL_CHARS = 24  # longer class names are cut so that the axes keep their room


def plot_confusion(
    path: Path, confusion: np.ndarray, names: list[str], title: str = "confusion"
) -> None:
    """Write the confusion matrix [C, C] (true rows, predicted columns) as a PNG, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    labels = [_short(name) for name in names]
    if len(names) <= MAX_HEATMAP_CLASSES:
        figure = _heatmap(confusion, labels, title)
    else:
        figure = _most_confused(confusion, labels, title)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    atomic_write(Path(path), buffer.getvalue())


def _heatmap(confusion: np.ndarray, labels: list[str], title: str) -> Figure:
    from matplotlib.figure import Figure

    C = len(labels)
    size = min(14.0, max(5.0, 0.45 * C + 2.5))
    figure = Figure(figsize=(size + 1.2, size))
    axes = figure.add_subplot()
    support = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, support, out=np.zeros(confusion.shape), where=support > 0)
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    fontsize = 10 if C <= 12 else 7 if C <= 20 else 5.5
    for i in range(C):
        for j in range(C):
            if confusion[i, j]:
                colour = "white" if share[i, j] > 0.5 else "black"
                axes.text(
                    j,
                    i,
                    str(confusion[i, j]),
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                    color=colour,
                )
    axes.set_xticks(range(C), labels, rotation=90, fontsize=fontsize + 1)
    axes.set_yticks(range(C), labels, fontsize=fontsize + 1)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    return figure


def _most_confused(confusion: np.ndarray, labels: list[str], title: str) -> Figure:
    from matplotlib.figure import Figure

    off = confusion.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:MOST_CONFUSED]
    pairs = [(int(k) // off.shape[1], int(k) % off.shape[1]) for k in flat]
    pairs = [(t, p) for t, p in pairs if off[t, p] > 0]
    figure = Figure(figsize=(9.0, max(3.0, 0.35 * len(pairs) + 1.5)))
    axes = figure.add_subplot()
    if not pairs:
        axes.text(0.5, 0.5, "no confusions: every sample is predicted right", ha="center")
        axes.set_axis_off()
    else:
        support = confusion.sum(axis=1)
        counts = [int(off[t, p]) for t, p in pairs][::-1]  # largest at the top
        names = [f"{labels[t]} \u2192 {labels[p]}" for t, p in pairs][::-1]
        bars = axes.barh(range(len(pairs)), counts, color="tab:blue")
        shares = [f" {off[t, p]}/{support[t]}" for t, p in pairs][::-1]
        axes.bar_label(bars, labels=shares, fontsize=8)
        axes.set_yticks(range(len(pairs)), names, fontsize=8)
        axes.set_xlabel("samples (of the true class's total)")
    axes.set_title(f"{title}: {len(pairs)} most confused pairs (true \u2192 predicted)")
    return figure


def _short(name: str) -> str:
    return name if len(name) <= MAX_LABEL_CHARS else name[: MAX_LABEL_CHARS - 1] + "\u2026"


# keys of metrics.jsonl that are not a learning curve (bookkeeping and speed)
NOT_CURVES = ("epoch", "step", "lr", "epoch_s", "samples_per_s", "train_pad_share")


def curves_png(
    records: list[dict[str, float]], monitor: str | None = None, best: int | None = None
) -> bytes:
    """Learning curves of a run's metrics.jsonl records as PNG bytes: the losses (train vs
    val) on the left, every other metric per epoch on the right (train dashed, val solid),
    the best epoch of `monitor` marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [int(r["epoch"]) for r in records]
    names = list(dict.fromkeys(k for r in records for k in r if k not in NOT_CURVES))
    losses = [n for n in names if n.endswith("_loss")]
    others = [n for n in names if n not in losses]
    figure = Figure(figsize=(11.0, 4.0))
    for index, (group, title) in enumerate(((losses, "loss"), (others, "metrics")), 1):
        axes = figure.add_subplot(1, 2, index)
        for name in group:
            points = [(e, r[name]) for e, r in zip(epochs, records, strict=True) if name in r]
            style = "--" if name.startswith("train_") else "-"
            axes.plot(*zip(*points, strict=True), style, marker=".", label=name)
        if monitor in group:
            best = best if best is not None else _best_epoch(records, monitor)
            if best is not None:
                axes.axvline(best, color="grey", linewidth=0.8, linestyle=":")
                axes.annotate(
                    f" best {monitor}, epoch {best}",
                    (best, 0.97),
                    xycoords=("data", "axes fraction"),
                    fontsize=8,
                    va="top",
                )
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.set_title(title)
        if group:
            axes.legend(fontsize=8)
        axes.grid(alpha=0.3)
    # fixed margins rather than bbox_inches="tight", which draws the figure twice: a run
    # draws its curves every CURVES_EVERY_S and at its end (bench_engine counts them)
    figure.subplots_adjust(left=0.065, right=0.99, bottom=0.12, top=0.92, wspace=0.18)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _best_epoch(records: list[dict[str, float]], monitor: str) -> int | None:
    from signcli.core.task_specs import metric_mode

    points = [(int(r["epoch"]), r[monitor]) for r in records if monitor in r]
    if not points:
        return None
    mode = metric_mode(monitor) or ("min" if monitor.endswith(("loss", "wer")) else "max")
    pick = min if mode == "min" else max
    return pick(points, key=lambda p: p[1])[0]
