"""Run a keras-tuner search and write its results table and best model."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import keras_tuner
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from srm_keras import storage
from srm_keras.training import TrainConfig, files
from srm_keras.training.plots import save_figure
from srm_keras.tuning.hypermodel import RecalibratedResNetHyperModel, SearchSpace

logger = logging.getLogger(__name__)

#: The strategies of ``srm_keras.tuning.names.TUNER_NAMES`` (a test keeps the two equal).
TUNERS = {
    "bayesian": keras_tuner.BayesianOptimization,
    "hyperband": keras_tuner.Hyperband,
    "random": keras_tuner.RandomSearch,
}
HYPERPARAMETERS = (
    "recalibration",
    "depth",
    "learning_rate",
    "weight_decay",
    "label_smoothing",
    "batch_size",
)


@dataclasses.dataclass
class SearchResult:
    """``rows``: one dict per trial, best first; ``best_model``: path of the saved best model."""

    rows: list[dict]
    best_model: Path
    best_hyperparameters: dict
    output: Path


def search(
    base: TrainConfig,
    *,
    tuner: str = "random",
    max_trials: int = 10,
    space: SearchSpace | None = None,
    output: str | Path = "runs/tune",
    overwrite: bool = False,
    seed: int = 0,
    data_factory=None,
) -> SearchResult:
    """Search over modules and recipe hyper-parameters with keras-tuner.

    Args:
        base: the recipe every trial starts from; ``base.epochs`` is each trial's length
            (Hyperband: the longest trial's).
        tuner: ``"random"``, ``"hyperband"`` or ``"bayesian"``.
        max_trials: trials to run (random and Bayesian search).
        space: the search space; default :class:`SearchSpace`.
        output: folder for ``trials.csv``, ``trials.md``, ``trials.png`` (each trial's score),
            ``best.keras``,
            ``best_hyperparameters.json`` and keras-tuner's own state (``tuner/``).
        overwrite: start afresh instead of resuming a search found in ``output``.
        seed: seed of the tuner's sampling.
        data_factory: ``batch_size -> DataBundle`` replacing ``srm_keras.data.load_datasets``.

    The search resumes where it stopped when run again with the same output (keras-tuner keeps
    finished trials on disk).
    """
    if tuner not in TUNERS:
        raise ValueError(f"tuner must be one of {sorted(TUNERS)}; received {tuner!r}.")
    if max_trials < 1:
        raise ValueError(f"max_trials must be positive; received {max_trials}.")
    output = Path(output)
    if overwrite and (output / "tuner").exists():
        shutil.rmtree(output / "tuner")
    hypermodel = RecalibratedResNetHyperModel(base, space, data_factory=data_factory)
    common = dict(
        objective="val_accuracy",
        directory=str(output),
        project_name="tuner",
        seed=seed,
        overwrite=False,
    )
    if tuner == "hyperband":
        instance = TUNERS[tuner](hypermodel, max_epochs=base.epochs, factor=3, **common)
    else:
        instance = TUNERS[tuner](hypermodel, max_trials=max_trials, **common)
    logger.info("%s search over %s, results in %s", tuner, hypermodel.space, output)
    instance.search(verbose=1)

    rows = trial_rows(instance)
    if not rows or rows[0]["score"] is None:
        raise ValueError(f"The search in {output} finished no trial; see the log above.")
    storage.write_csv(output / "trials.csv", rows)
    storage.write_text(output / "trials.md", format_markdown(rows))
    save_figure(trials_figure(rows), output / "trials.png")
    best_hp = instance.get_best_hyperparameters(1)[0]
    best_values = {name: best_hp.get(name) for name in HYPERPARAMETERS}
    storage.write_json(output / "best_hyperparameters.json", best_values)
    best_model = output / "best.keras"
    files.save_model(instance.get_best_models(1)[0], best_model)
    return SearchResult(rows, best_model, best_values, output)


def trials_figure(rows: list[dict]) -> Figure:
    """Each finished trial's score, best first, labelled with its module and depth and coloured
    by module: which modules the search favoured, at a glance."""
    finished = [row for row in rows if row["score"] is not None]
    modules = sorted({str(row["recalibration"]) for row in finished})
    colors = {module: f"C{index}" for index, module in enumerate(modules)}
    fig = Figure(figsize=(max(5.0, 0.45 * len(finished) + 2), 4))
    ax = fig.subplots()
    positions = range(len(finished))
    ax.bar(
        positions,
        [row["score"] for row in finished],
        color=[colors[str(row["recalibration"])] for row in finished],
    )
    ax.set_xticks(
        list(positions),
        [f"{row['trial']}\n{row['recalibration']}-{row['depth']}" for row in finished],
        fontsize=7,
    )
    ax.set_ylabel("validation accuracy")
    ax.set_title("keras-tuner trials, best first")
    ax.legend(handles=[Patch(color=colors[module], label=module) for module in modules], fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def trial_rows(tuner: keras_tuner.Tuner) -> list[dict]:
    """One row per trial: id, status, hyper-parameters and score (best first)."""
    rows = []
    for trial in tuner.oracle.trials.values():
        values = trial.hyperparameters.values
        row = {"trial": trial.trial_id, "status": str(trial.status).split(".")[-1].lower()}
        row.update({name: values.get(name) for name in HYPERPARAMETERS})
        row["score"] = trial.score
        rows.append(row)
    return sorted(rows, key=lambda r: (r["score"] is None, -(r["score"] or 0.0)))


def format_markdown(rows: list[dict]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_cell(row[c]) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None else str(value)
