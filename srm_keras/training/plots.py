"""Training-curve plots from run folders, as PNG files.

Figures are built with ``matplotlib.figure.Figure`` directly, so importing this module leaves
pyplot's backend alone (inline plots in notebooks keep working).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

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


def plot_history(run: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Loss, accuracy (top-1 solid, top-5 dashed) and learning rate of one run, per epoch."""
    history = read_history(run)
    epochs = [e + 1 for e in history["epoch"]]
    panels = [("loss", ("loss",)), ("accuracy", ("accuracy", "top5_accuracy"))]
    if "learning_rate" in history:
        panels.append(("learning rate", ()))
    fig = Figure(figsize=(5 * len(panels), 4))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels):
        if not keys:
            ax.plot(epochs, history["learning_rate"], color="black")
            ax.set_yscale("log")
        for key, style in zip(keys, ("-", "--")):
            for prefix, color in (("", "tab:blue"), ("val_", "tab:orange")):
                if prefix + key in history:
                    name = ("validation " if prefix else "train ") + key.replace("_", " ")
                    ax.plot(epochs, history[prefix + key], style, color=color, label=name)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if keys:
            ax.legend()
    return _save(fig, output)


def plot_comparison(
    runs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    labels: Sequence[str] | None = None,
) -> Path:
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
        epochs = [e + 1 for e in history["epoch"]]
        if "val_accuracy" in history:
            left.plot(epochs, history["val_accuracy"], label=label)
        right.plot(epochs, history["loss"], label=label)
    for ax, title in ((left, "validation accuracy"), (right, "training loss")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    right.set_yscale("log")
    return _save(fig, output)


def _save(fig, output: str | os.PathLike) -> Path:
    output = Path(output)
    fig.tight_layout()
    with storage.replacing(output, ".png") as tmp:
        fig.savefig(tmp, dpi=120)
    return output
