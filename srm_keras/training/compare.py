"""``compare_modules(config, modules, output)``: one recipe, several recalibration modules, one
table and one figure.

Each module's run is :func:`~srm_keras.training.train` of the recipe with that module swapped in
(``recalibration``), in its own run folder ``OUTPUT/<model name>/``, so it keeps every guarantee
of a run: an unfinished one resumes, one whose settings differ is refused (before any module is
trained), and a finished one is not trained again unless ``overwrite``. Then ``OUTPUT`` gets::

    comparison.csv   one row per module, the fields of :data:`FIELDS`
    comparison.md    the same rows as a Markdown table, with what each column means
    comparison.png   validation accuracy and training loss of every run, per epoch

**Train seconds per epoch.** A run records only the wall time of ``fit`` in its *last* process
(``final_metrics.json``'s ``train_seconds_this_process``: validation passes and graph tracing
included), not how many epochs that process trained: a resumed run trained fewer than its total.
So the column is that time divided by the epochs the last process trained, which is known when
``compare`` trained it (it counts them, and keeps the count in ``comparison.csv`` for the next
comparison); for a run finished by another command it is left empty.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from srm_keras import storage
from srm_keras.layers import registry
from srm_keras.models.profile import count_macs, count_params
from srm_keras.training import plots
from srm_keras.training.config import TrainConfig
from srm_keras.training.evaluation import load_model
from srm_keras.training.run_folder import RunFolder, differences
from srm_keras.training.trainer import train

logger = logging.getLogger(__name__)

CSV = "comparison.csv"
MARKDOWN = "comparison.md"
FIGURE = "comparison.png"

#: The columns of ``comparison.csv``; accuracies are fractions, as in ``final_metrics.json``.
FIELDS = (
    "model",
    "params",  # trainable, as the papers count them
    "gmacs",  # one image at image_size
    "image_size",
    "epochs",
    "epochs_completed",
    "val_top1",  # the final model on the validation set (final_metrics.json)
    "val_top5",
    "best_val_top1",  # the best epoch's val_accuracy, as logged during training
    "best_epoch",  # counted from 0, as in history.csv
    "train_seconds_last_process",
    "epochs_last_process",  # empty when unknown (module doc)
    "seconds_per_epoch",
)

NO_MODULE = "none"


def module_keys() -> list[str]:
    """What ``modules`` may name: ``none`` (the plain network) and every registered module."""
    return [NO_MODULE, *registry.names()]


def default_output(config: TrainConfig) -> Path:
    """``runs/compare_<plain model>_<dataset>``, e.g. ``runs/compare_resnet20_digits``."""
    plain = config.replace(recalibration=NO_MODULE).model
    dataset = re.sub(r"[^\w.-]+", "_", Path(config.dataset).name)
    return Path("runs") / f"compare_{plain}_{dataset}"


def compare_modules(
    config: TrainConfig, modules: Sequence[str], output: str | os.PathLike
) -> list[dict[str, Any]]:
    """Train ``config`` once per module of ``modules`` and write the comparison (module doc).

    Args:
        config: the recipe; its model's module is replaced by each one of ``modules``, and its
            ``output`` by ``output/<model name>``.
        modules: registry keys, or ``"none"`` for the plain network (:func:`module_keys`).
        output: the folder of the runs and of the comparison files.

    Returns:
        One row per module, in the order given: the fields of :data:`FIELDS`.

    Every module and every existing run folder is checked before anything is trained: an
    unknown module, a module given twice, or a run whose settings differ raises ValueError.
    """
    output = Path(output)
    configs = [_run_config(config, module, output) for module in _checked(modules)]
    pending = [run for run in configs if _needs_training(run)]
    counted: dict[str, int] = {}
    for index, run in enumerate(pending, start=1):
        logger.info("[%d/%d] training %s in %s", index, len(pending), run.model, run.output)
        counter = _EpochCounter()
        train(run, callbacks=[counter])
        counted[run.model] = counter.epochs
        keras.backend.clear_session()  # one model at a time in memory
    previous = _read_rows(output / CSV)
    rows = [_row(run, counted, previous) for run in configs]
    storage.write_csv(output / CSV, rows, FIELDS)
    storage.write_text(output / MARKDOWN, format_markdown(rows))
    plots.plot_comparison([run.output for run in configs], output / FIGURE)
    return rows


def _checked(modules: Sequence[str]) -> list[str]:
    keys = [str(module).lower() for module in modules]
    if not keys:
        raise ValueError(f"give at least one module to compare, from: {', '.join(module_keys())}.")
    for key in keys:
        if key not in module_keys():
            raise ValueError(f"unknown module {key!r}; valid ones: {', '.join(module_keys())}.")
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"modules {repeated} are given more than once; give each once.")
    return keys


def _run_config(config: TrainConfig, module: str, output: Path) -> TrainConfig:
    swapped = config.replace(recalibration=module)
    return swapped.replace(output=str(output / swapped.model))


def _needs_training(config: TrainConfig) -> bool:
    """Whether the run must be trained; refuse a run folder whose settings differ."""
    run = RunFolder(config.output)
    if not run.finished:
        if run.backup.exists() and config.resume:
            run.check_same_settings(config)  # the refusal train() would give, before any run
        return True
    if config.overwrite:
        logger.info("%s: finished in %s; training it again (overwrite)", config.model, run.path)
        return True
    changed = differences(run.settings(), config.to_dict())
    if changed:
        listed = "; ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changed.items())
        raise ValueError(
            f"{str(run.path)!r} holds a finished run with other settings: {listed}. Choose "
            "another output folder, or pass overwrite (--overwrite) to train it again."
        )
    logger.info(
        "%s: already finished in %s; not trained again (--overwrite to retrain)",
        config.model,
        run.path,
    )
    return False


class _EpochCounter(keras.callbacks.Callback):
    """Counts the epochs ``fit`` trains in this process (after a resume, fewer than the run's)."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def _row(
    config: TrainConfig, counted: dict[str, int], previous: dict[str, dict[str, str]]
) -> dict[str, Any]:
    run = RunFolder(config.output)
    metrics = storage.read_json(run.final_metrics)
    model = load_model(run.model)
    params, gmacs = count_params(model), count_macs(model) / 1e9
    del model
    keras.backend.clear_session()
    seconds = metrics["train_seconds_this_process"]
    epochs = counted.get(config.model)
    if epochs is None:  # trained before: by an earlier comparison, if it recorded this process
        earlier = previous.get(config.model, {})
        if earlier.get("epochs_last_process") and _same_number(
            earlier.get("train_seconds_last_process"), seconds
        ):
            epochs = int(earlier["epochs_last_process"])
    return {
        "model": config.model,
        "params": params,
        "gmacs": gmacs,
        "image_size": config.image_size,
        "epochs": metrics["epochs"],
        "epochs_completed": metrics["epochs_completed"],
        "val_top1": metrics["val_accuracy"],
        "val_top5": metrics["val_top5_accuracy"],
        "best_val_top1": metrics["best_val_accuracy"],
        "best_epoch": metrics["best_epoch"],
        "train_seconds_last_process": seconds,
        "epochs_last_process": epochs,
        "seconds_per_epoch": round(seconds / epochs, 2) if epochs else None,
    }


def _same_number(text: str | None, value: float) -> bool:
    try:
        return float(text) == float(value)
    except (TypeError, ValueError):
        return False


def _read_rows(path: Path) -> dict[str, dict[str, str]]:
    """An earlier ``comparison.csv``'s rows by model (empty if there is none)."""
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {row["model"]: row for row in csv.DictReader(f) if row.get("model")}


def format_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as ``comparison.md``: a Markdown table, then what its columns mean."""
    sizes = {row["image_size"] for row in rows}
    size = f"{rows[0]['image_size']}×{rows[0]['image_size']}" if len(sizes) == 1 else "each run's"
    lines = [
        f"| model | params | GMACs ({size}) | epochs | val top-1 % | val top-5 % "
        "| best val top-1 % (epoch) | train s/epoch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        best = "–"
        if row["best_val_top1"] is not None:
            best = f"{100 * row['best_val_top1']:.2f} ({row['best_epoch']})"
        per_epoch = "–" if row["seconds_per_epoch"] is None else f"{row['seconds_per_epoch']:.2f}"
        lines.append(
            f"| {row['model']} | {row['params']:,} | {row['gmacs']:.4g} "
            f"| {row['epochs_completed']}/{row['epochs']} | {100 * row['val_top1']:.2f} "
            f"| {100 * row['val_top5']:.2f} | {best} | {per_epoch} |"
        )
    notes = (
        "",
        "val top-1/top-5: the final model on the validation set (final_metrics.json). Best val "
        "top-1: the best epoch's validation accuracy as logged during training, epochs counted "
        "from 0. Train s/epoch: wall seconds of fit in the run's last process (validation and "
        "graph tracing included) divided by the epochs that process trained; – where that "
        "process was not run by srm-keras compare, which alone counts its epochs.",
    )
    return "\n".join([*lines, *notes]) + "\n"
