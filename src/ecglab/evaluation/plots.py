"""Static PNG figures for a run report: ROC, PR, confusion, learning curves, reliability.

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly, not through pyplot, so
they render with the Agg canvas without a display and without changing the backend of whoever
imported ecglab (a notebook keeps its inline backend).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ecglab.errors import EcglabError
from ecglab.evaluation.calibration import expected_calibration_error, reliability_curve
from ecglab.evaluation.metrics import binary_auprc, binary_auroc, pr_curve_points, roc_curve_points

DPI = 120


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def _most_frequent(y_true: np.ndarray, max_classes: int) -> list[int]:
    """Indices of classes with positives and negatives, most frequent first, at most ``max_classes``."""
    support = y_true.sum(axis=0)
    defined = [c for c in np.argsort(-support, kind="stable") if 0 < support[c] < len(y_true)]
    return defined[:max_classes]


def _curves_figure(y_true, y_prob, classes, path, max_classes: int, curve, area, xlabel: str, ylabel: str,
                   title: str, area_name: str, diagonal: bool, drawstyle: str = "default") -> Path:
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob, dtype=np.float64)
    shown = _most_frequent(y_true, max_classes)
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    for c in shown:
        x, y = curve(y_true[:, c], y_prob[:, c])
        ax.plot(x, y, lw=1.5, drawstyle=drawstyle,
                label=f"{classes[c]} ({area_name} {area(y_true[:, c], y_prob[:, c]):.3f})")
    if diagonal:
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    n_defined = len(_most_frequent(y_true, len(classes)))
    if len(shown) < n_defined:
        title += f"\n({len(shown)} most frequent of {n_defined} classes)"
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    if shown or diagonal:
        ax.legend(loc="lower right" if diagonal else "lower left", fontsize="small")
    return _save(fig, path)


def plot_roc(y_true, y_prob, classes: Sequence[str], path, max_classes: int = 12) -> Path:
    """One ROC curve per class (the most frequent ``max_classes``), AUROC in the legend."""
    return _curves_figure(y_true, y_prob, classes, path, max_classes, roc_curve_points, binary_auroc,
                          "False positive rate (1 - specificity)", "True positive rate (sensitivity)",
                          "ROC curves", "AUC", diagonal=True)


def _pr_steps(y, score):
    """PR points from recall 0, drawn as steps so the area under them is the average precision."""
    recall, precision = pr_curve_points(y, score)
    return np.r_[0.0, recall], np.r_[precision[0], precision]


def plot_pr(y_true, y_prob, classes: Sequence[str], path, max_classes: int = 12) -> Path:
    """One precision-recall curve per class (the most frequent ``max_classes``), average precision in the legend."""
    return _curves_figure(y_true, y_prob, classes, path, max_classes, _pr_steps, binary_auprc,
                          "Recall (sensitivity)", "Precision (positive predictive value)",
                          "Precision-recall curves", "AP", diagonal=False, drawstyle="steps-pre")


def _annotate(ax, shown: np.ndarray, texts: np.ndarray, vmax: float) -> None:
    for (i, j), text in np.ndenumerate(texts):
        ax.text(j, i, text, ha="center", va="center", fontsize="small",
                color="white" if shown[i, j] > 0.6 * vmax else "black")


def plot_confusion(matrix, classes: Sequence[str], path, normalize: bool = True,
                   title: str = "Confusion matrix") -> Path:
    """Heat map of a C x C confusion matrix (rows = true class); row-normalised when ``normalize``."""
    counts = np.asarray(matrix, dtype=np.float64)
    if counts.shape != (len(classes), len(classes)):
        raise EcglabError(f"expected a {len(classes)} x {len(classes)} confusion matrix; got shape {counts.shape}.")
    rows = counts.sum(axis=1, keepdims=True)
    shown = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0) if normalize else counts
    size = max(4.5, 0.5 * len(classes) + 2)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.subplots()
    vmax = 1.0 if normalize else max(shown.max(), 1.0)
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=vmax)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class" if normalize else "records")
    if len(classes) <= 20:
        texts = np.vectorize(lambda v: f"{v:.2f}")(shown) if normalize else counts.astype(np.int64).astype(str)
        _annotate(ax, shown, texts, vmax)
    ticks = np.arange(len(classes))
    crowded = len(classes) > 6
    ax.set_xticks(ticks, labels=list(classes), rotation=45 if crowded else 0, ha="right" if crowded else "center")
    ax.set_yticks(ticks, labels=list(classes))
    ax.set(xlabel="Predicted class", ylabel="True class", title=title)
    return _save(fig, path)


def plot_per_class_confusion(confusions, classes: Sequence[str], path, max_classes: int = 36,
                             title: str = "Per-class confusion (rows: true, columns: predicted; shade: row fraction)",
                             ) -> Path:
    """A grid of 2 x 2 confusions [[tn, fp], [fn, tp]], one per class, most frequent first.

    Counts are printed; the shade is the row-normalised rate (specificity and sensitivity on the diagonal).
    ``confusions`` is the ``per_class_confusion`` dict of :func:`compute_metrics` or a (C, 2, 2) array.
    """
    if isinstance(confusions, Mapping):
        confusions = [confusions[str(name)] for name in classes]
    cells = np.asarray(confusions, dtype=np.float64)
    if cells.shape != (len(classes), 2, 2):
        raise EcglabError(f"expected per-class confusions of shape ({len(classes)}, 2, 2); got {cells.shape}.")
    order = np.argsort(-cells[:, 1].sum(axis=1), kind="stable")[:max_classes]
    n_cols = min(6, len(order))
    n_rows = int(np.ceil(len(order) / n_cols))
    fig = Figure(figsize=(2.2 * n_cols, 2.3 * n_rows + 0.6))
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, c in zip(axes, order):
        rows = cells[c].sum(axis=1, keepdims=True)
        shown = np.divide(cells[c], rows, out=np.zeros((2, 2)), where=rows > 0)
        ax.imshow(shown, cmap="Blues", vmin=0, vmax=1)
        _annotate(ax, shown, cells[c].astype(np.int64).astype(str), 1.0)
        ax.set_xticks([0, 1], labels=["neg", "pos"], fontsize="small")
        ax.set_yticks([0, 1], labels=["neg", "pos"], fontsize="small")
        ax.set_title(str(classes[c]), fontsize="medium")
    for ax in axes[len(order):]:
        ax.set_axis_off()
    if len(order) < len(classes):
        title += f" - {len(order)} most frequent of {len(classes)} classes"
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def epoch_history(history: pd.DataFrame) -> pd.DataFrame:
    """Lightning CSVLogger rows (sparse, one row per logging call) averaged into one row per epoch.

    Rows without an epoch (LearningRateMonitor logs only a step) take the epoch of the next
    logged row by step. A ``*_step`` column is dropped when its ``*_epoch`` twin exists.
    """
    if "epoch" not in history.columns:
        raise EcglabError(f"the training history needs an 'epoch' column (Lightning's metrics.csv); "
                          f"found columns {list(history.columns)}.")
    if "step" in history.columns:
        history = history.sort_values("step", kind="stable")
    history = history.assign(epoch=history["epoch"].bfill().ffill())
    columns = [c for c in history.columns if c not in ("epoch", "step")
               and not (c.endswith("_step") and f"{c[:-5]}_epoch" in history.columns)]
    per_epoch = history.dropna(subset=["epoch"]).groupby("epoch")[columns].mean(numeric_only=True)
    return per_epoch.dropna(axis=1, how="all")


def plot_learning_curves(history: pd.DataFrame, path) -> Path:
    """Losses, other logged metrics and learning rates against epoch, one panel each."""
    per_epoch = epoch_history(history)
    learning_rates = [c for c in per_epoch.columns if c.startswith("lr")]
    losses = [c for c in per_epoch.columns if "loss" in c and c not in learning_rates]
    others = [c for c in per_epoch.columns if c not in losses and c not in learning_rates]
    groups = ((losses, "loss", "Losses"), (others, "metric", "Metrics"), (learning_rates, "learning rate", "Learning rates"))
    panels = [group for group in groups if group[0]]
    if not panels:
        raise EcglabError(f"the training history has no numeric columns to plot besides epoch and step; "
                          f"found {list(history.columns)}.")
    fig = Figure(figsize=(5 * len(panels), 4))
    for ax, (cols, label, title) in zip(fig.subplots(1, len(panels), squeeze=False).ravel(), panels):
        for col in cols:
            series = per_epoch[col].dropna()
            ax.plot(series.index, series.values, marker="o", ms=3, label=col)
        if label == "learning rate":
            ax.set_yscale("log")
        ax.set(xlabel="epoch", ylabel=label, title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle("Learning curves")
    fig.tight_layout()
    return _save(fig, path)


def plot_reliability(y_true, y_prob, path, n_bins: int = 15, kind: str | None = None,
                     title: str = "Reliability diagram") -> Path:
    """Observed frequency against mean confidence per bin, with the ECE in the title (Guo et al. 2017)."""
    curve = reliability_curve(y_true, y_prob, n_bins, kind)
    ece = expected_calibration_error(y_true, y_prob, n_bins, kind)
    width = 1.0 / n_bins
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    ax.bar(curve["confidence"], curve["frequency"], width=width * 0.9, color="tab:blue", alpha=0.7,
           edgecolor="black", label="observed")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Predicted probability (confidence)",
           ylabel="Observed frequency (accuracy)", title=f"{title} - ECE {ece:.3f}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _save(fig, path)
