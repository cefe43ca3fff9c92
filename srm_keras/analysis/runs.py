"""A training run's model and the held-out images it was never trained on, for the analyses."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import keras

from srm_keras.training.run_folder import RunFolder


@dataclasses.dataclass
class RunData:
    """What an analysis needs from a run folder.

    Attributes:
        path: the run folder.
        model: its ``model.keras`` (or ``best.keras``), loaded for inference.
        validation: its held-out split, ``(images, labels)`` batches: the same images, split
            and evaluation transform as the run's own evaluation (``evaluation.json``).
        class_names: the dataset's classes.
        settings: the run's ``config.json``.
    """

    path: Path
    model: keras.Model
    validation: object
    class_names: list[str]
    settings: dict


def load_run(
    path: str | os.PathLike, *, batch_size: int = 256, best: bool = False, data_dir=None
) -> RunData:
    """Load a run folder made by ``srm-keras train``: its model and its held-out split.

    The split is rebuilt from the run's ``config.json`` as ``srm-keras evaluate`` does
    (:meth:`~srm_keras.training.run_folder.RunFolder.split_settings`: its dataset, image size,
    ``validation_split``, ``seed`` and ``augment``, which picks the evaluation transform),
    deterministically.

    Args:
        path: the run folder.
        batch_size: evaluation batch size (does not change the images).
        best: load ``best.keras`` instead of ``model.keras``.
        data_dir: the tensorflow-datasets folder, if it moved since the run.
    """
    from srm_keras.data import load_datasets
    from srm_keras.training.evaluation import load_model

    run = RunFolder(path)
    if not run.config_json.is_file():
        raise ValueError(
            f"{str(path)!r} is not a run folder made by srm-keras train (no config.json)."
        )
    split = run.split_settings()
    model = load_model(run.best_model if best else run.model)
    size = split["image_size"] or model.input_shape[1]
    if size is None:
        raise ValueError(f"{str(path)!r}: neither the run nor its model fixes an image size.")
    bundle = load_datasets(
        split["dataset"],
        image_size=int(size),
        batch_size=int(batch_size),
        augment=split["augment"],
        validation_split=split["validation_split"],
        seed=split["seed"],
        data_dir=data_dir if data_dir is not None else split["data_dir"],
        deterministic=True,
    )
    return RunData(run.path, model, bundle.validation, list(bundle.class_names), run.settings())
