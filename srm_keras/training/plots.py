"""Pictures of runs and evaluations, as PNG files: training curves, comparisons of runs, and
confusion matrices.

Figures are built with ``matplotlib.figure.Figure`` directly, so importing this module leaves
pyplot's backend alone (inline plots in notebooks keep working). Each ``*_figure`` function
returns the Figure (to show or inspect); each ``plot_*`` function writes it atomically.
Epochs are numbered from 0, as in ``history.csv``; every point has a marker, so that a run of
one epoch shows.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from srm_keras import storage
from srm_keras.training.run_folder import RunFolder


def read_history(run: str | os.PathLike) -> dict[str, list[float]]:
    """Columns of a run's ``history.csv`` (``run`` is the run folder or the CSV file)."""
    path = Path(run)
    if path.is_dir():
        path = RunFolder(path).history
    if not path.is_file():
        raise ValueError(
            f"{str(path)!r} does not exist; pass a run folder made by srm-keras train."
        )
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{str(path)!r} has no epochs yet.")
    return {key: [float(row[key]) for row in rows if row.get(key)] for key in rows[0]}


def run_label(run: str | os.PathLike) -> str:
    """A run's model name from its ``config.json``, else the folder name."""
    folder = RunFolder(run)
    if folder.config_json.is_file():
        return str(folder.settings().get("model", folder.path.name))
    return folder.path.name


EPOCH_LABEL = "epoch (as in history.csv)"
# Matplotlib's line style arguments shared by every curve: a marker on each epoch.
_POINTS = {"marker": "o", "markersize": 3}


def _epochs(history: dict[str, list[float]]) -> list[int]:
    return [int(e) for e in history["epoch"]]


def _epoch_axis(ax) -> None:
    ax.set_xlabel(EPOCH_LABEL)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    low, high = ax.get_xlim()
    if high - low < 1:  # one epoch: its number alone, not fractions of an epoch
        epoch = round((low + high) / 2)
        ax.set_xlim(epoch - 0.5, epoch + 0.5)
        ax.set_xticks([epoch])
    ax.grid(alpha=0.3)


def plot_history(run: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Write :func:`history_figure` of one run to ``output`` (PNG)."""
    return save_figure(history_figure(run), output)


def history_figure(run: str | os.PathLike) -> Figure:
    """Loss, accuracy (top-1 solid, top-5 dashed) and learning rate of one run, per epoch."""
    history = read_history(run)
    epochs = _epochs(history)
    panels = [("loss", ("loss",)), ("accuracy", ("accuracy", "top5_accuracy"))]
    if "learning_rate" in history:
        panels.append(("learning rate", ()))
    fig = Figure(figsize=(5 * len(panels), 4))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels):
        if not keys:
            ax.plot(epochs, history["learning_rate"], color="black", **_POINTS)
            ax.set_yscale("log")
        for key, style in zip(keys, ("-", "--")):
            for prefix, color in (("", "tab:blue"), ("val_", "tab:orange")):
                if prefix + key in history:
                    name = ("validation " if prefix else "train ") + key.replace("_", " ")
                    ax.plot(
                        epochs, history[prefix + key], style, color=color, label=name, **_POINTS
                    )
        ax.set_title(title)
        _epoch_axis(ax)
        if keys:
            ax.legend()
    return fig


def plot_comparison(
    runs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    labels: Sequence[str] | None = None,
) -> Path:
    """Write :func:`comparison_figure` of several runs to ``output`` (PNG)."""
    return save_figure(comparison_figure(runs, labels), output)


def comparison_figure(
    runs: Sequence[str | os.PathLike], labels: Sequence[str] | None = None
) -> Figure:
    """Validation accuracy and training loss of several runs (e.g. plain, SE, GE, SRM) per epoch."""
    if not runs:
        raise ValueError("give at least one run folder to compare.")
    labels = list(labels) if labels is not None else [run_label(run) for run in runs]
    if len(labels) != len(runs):
        raise ValueError(f"got {len(labels)} labels for {len(runs)} runs; give one label per run.")
    fig = Figure(figsize=(11, 4))
    left, right = fig.subplots(1, 2)
    for run, label in zip(runs, labels):
        history = read_history(run)
        epochs = _epochs(history)
        if "val_accuracy" in history:
            left.plot(epochs, history["val_accuracy"], label=label, **_POINTS)
        right.plot(epochs, history["loss"], label=label, **_POINTS)
    for ax, title in ((left, "validation accuracy"), (right, "training loss")):
        ax.set_title(title)
        _epoch_axis(ax)
        ax.legend()
    right.set_yscale("log")
    return fig


# Up to this many classes the axes name them; up to _ANNOTATED each cell shows its count.
_NAMED = 40
_ANNOTATED = 20


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]],
    output: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Write :func:`confusion_figure` to ``output`` (PNG)."""
    return save_figure(confusion_figure(matrix, class_names, title), output)


def confusion_figure(
    matrix: Sequence[Sequence[int]],
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """A confusion matrix (rows: true class, columns: predicted class, as ``evaluate`` returns
    it), each cell coloured by its share of the true class (the diagonal is per-class recall)
    and, for up to 20 classes, labelled with its count."""
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0:
        raise ValueError(f"a confusion matrix is square and not empty; got shape {counts.shape}.")
    classes = len(counts)
    names = [str(i) for i in range(classes)] if class_names is None else list(class_names)
    if len(names) != classes:
        raise ValueError(f"got {len(names)} class names for {classes} classes.")
    support = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, support, out=np.zeros(counts.shape), where=support > 0)
    side = min(4.0 + 0.35 * classes, 16.0)
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="share of the true class")
    if classes <= _NAMED:
        ax.set_xticks(range(classes), names, rotation=90)
        ax.set_yticks(range(classes), names)
    if classes <= _ANNOTATED:
        for (row, column), count in np.ndenumerate(counts):
            color = "white" if shares[row, column] > 0.5 else "black"
            ax.text(column, row, str(count), ha="center", va="center", color=color, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or f"confusion matrix ({int(counts.sum())} images)")
    return fig


def save_figure(fig: Figure, output: str | os.PathLike) -> Path:
    """Write a figure as a PNG, atomically (``srm_keras.storage.replacing``); return its path."""
    output = Path(output)
    fig.tight_layout()
    with storage.replacing(output, ".png") as tmp:
        fig.savefig(tmp, dpi=120)
    return output
