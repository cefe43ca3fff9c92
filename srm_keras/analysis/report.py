"""The analyses' files: ``pruning.csv``, ``pruning.md`` and ``pruning.png`` (the pruning
study), ``gates.csv`` (gate statistics)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from srm_keras import storage
from srm_keras.analysis.gates import GateStatistics, statistics_table
from srm_keras.training.plots import save_figure

CSV = "pruning.csv"
MARKDOWN = "pruning.md"
PICTURE = "pruning.png"
GATES = "gates.csv"

_LINE_STYLES = {"gate": "-", "bn_scale": "--", "random": ":"}


def format_markdown(rows: list[dict]) -> str:
    """A table of :func:`srm_keras.analysis.pruning_curve` rows: one line per model and
    criterion, one column of top-1 accuracy per fraction."""
    fractions = sorted({row["fraction"] for row in rows})
    lines = [
        "| model | criterion | " + " | ".join(f"{f:g}" for f in fractions) + " |",
        "|---|---|" + "---:|" * len(fractions),
    ]
    for (model, criterion), by_fraction in _lines(rows).items():
        cells = [f"{by_fraction[f]:.4f}" if f in by_fraction else "–" for f in fractions]
        lines.append(f"| {model} | {criterion} | " + " | ".join(cells) + " |")
    examples = sorted({row["num_examples"] for row in rows})
    lines += [
        "",
        "Top-1 accuracy with the given fraction of every residual branch's channels silenced, "
        "without fine-tuning, on " + " / ".join(str(n) for n in examples) + " held-out images.",
    ]
    return "\n".join(lines) + "\n"


def pruning_figure(rows: list[dict]) -> Figure:
    """Top-1 accuracy against the pruned fraction: one line per model and criterion (colour:
    model; line style: criterion)."""
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    colours = {}
    for (model, criterion), by_fraction in _lines(rows).items():
        colour = colours.setdefault(model, f"C{len(colours)}")
        fractions = sorted(by_fraction)
        ax.plot(
            fractions,
            [by_fraction[f] for f in fractions],
            linestyle=_LINE_STYLES.get(criterion, "-"),
            marker="o",
            markersize=3,
            color=colour,
            label=f"{model}, {criterion}",
        )
    ax.set_xlabel("fraction of each residual branch's channels pruned")
    ax.set_ylabel("top-1 accuracy (no fine-tuning)")
    ax.set_title("channels pruned by gate, BN scale or at random")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def write_pruning_report(rows: list[dict], output: str | os.PathLike) -> dict[str, Path]:
    """Write ``pruning.csv``, ``pruning.md`` and ``pruning.png`` into ``output`` (atomically,
    each); return their paths by kind (``csv``, ``markdown``, ``png``)."""
    if not rows:
        raise ValueError("no rows to write: the pruning study measured nothing.")
    output = Path(output)
    paths = {"csv": output / CSV, "markdown": output / MARKDOWN, "png": output / PICTURE}
    storage.write_csv(paths["csv"], rows)
    storage.write_text(paths["markdown"], format_markdown(rows))
    save_figure(pruning_figure(rows), paths["png"])
    return paths


def write_gate_table(
    tables: Iterable[tuple[str, Sequence[GateStatistics]]], output: str | os.PathLike
) -> Path:
    """Write ``gates.csv`` into ``output``: one row per run, module and channel (``run``,
    then the columns of :func:`srm_keras.analysis.statistics_table`); return its path."""
    rows = []
    for run, statistics in tables:
        table = statistics_table(statistics)
        for values in zip(*table.values()):
            rows.append({"run": run, **dict(zip(table, values))})
    if not rows:
        raise ValueError("no gate statistics to write.")
    path = Path(output) / GATES
    storage.write_csv(path, rows)
    return path


def _lines(rows: list[dict]) -> dict[tuple[str, str], dict[float, float]]:
    """(model, criterion) -> {fraction: accuracy}, in the rows' order."""
    lines: dict[tuple[str, str], dict[float, float]] = {}
    for row in rows:
        lines.setdefault((row["model"], row["criterion"]), {})[row["fraction"]] = row["accuracy"]
    return lines
