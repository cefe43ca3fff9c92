"""Where the export's calibration and verification images come from, for the command line.

A training output folder records its dataset in ``config.json``; with it (or with an explicit
``--data``) the export draws int8 calibration images from the training split and verifies on
the validation split, both as raw 0-255 pixels through the evaluation transform.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)


def run_data_settings(source: str | Path) -> dict:
    """The data settings recorded by the training run that wrote ``source`` (a run folder or a
    model file in one): ``dataset``, ``data_dir``, ``seed`` and ``validation_split``, the ones
    that reproduce its held-out split; ``{}`` when there is no run."""
    from srm_keras.training.run_folder import RunFolder

    run = RunFolder.of(source)
    if run is None:
        return {}
    try:
        split = run.split_settings()
    except ValueError as error:
        logger.warning("ignoring the run's settings: %s", error)
        return {}
    keys = ("dataset", "data_dir", "seed", "validation_split")
    return {key: split[key] for key in keys if split[key] is not None}


def export_data(
    dataset: str,
    image_size: tuple[int, int],
    *,
    data_dir: str | None = None,
    batch_size: int = 32,
    seed: int = 0,
    validation_split: float = 0.2,
) -> tuple[Iterable, Iterable]:
    """``(representative, verification)`` batches of 0-255 RGB images of ``dataset``.

    The training split calibrates, the validation split verifies; neither is augmented. For a
    model trained here, ``seed`` and ``validation_split`` are the run's (see
    :func:`run_data_settings`), so that verification images are images it did not train on. Nothing
    is cached: the export reads a few hundred images once, and stops reading each split part way
    (a partly read in-memory tf.data cache is what a later full read must not depend on).
    """
    from srm_keras.data import load_datasets

    bundle = load_datasets(
        dataset,
        image_size=image_size,
        batch_size=batch_size,
        augment="none",
        seed=seed,
        validation_split=validation_split,
        data_dir=data_dir,
        deterministic=True,
        normalize=False,
        cache=False,
    )
    return bundle.train, bundle.validation
