"""Where the export's calibration and verification images come from, for the command line.

A training output folder records its dataset in ``config.json``; with it (or with an explicit
``--data``) the export draws int8 calibration images from the training split and verifies on
the validation split, both as raw 0-255 pixels through the evaluation transform.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

RUN_CONFIG = "config.json"


def run_dataset(source: str | Path) -> tuple[str | None, str | None]:
    """``(dataset, data_dir)`` recorded by the training run that wrote ``source``, if any."""
    path = Path(source)
    folder = path if path.is_dir() else path.parent
    config = folder / RUN_CONFIG
    if not config.is_file():
        return None, None
    try:
        settings = json.loads(config.read_text())
    except json.JSONDecodeError:
        logger.warning("ignoring %s: not valid JSON", config)
        return None, None
    settings = settings.get("config", settings)
    return settings.get("dataset"), settings.get("data_dir")


def export_data(
    dataset: str,
    image_size: tuple[int, int],
    *,
    data_dir: str | None = None,
    batch_size: int = 32,
    seed: int = 0,
) -> tuple[Iterable, Iterable]:
    """``(representative, verification)`` batches of 0-255 RGB images of ``dataset``.

    The training split calibrates, the validation split verifies; neither is augmented. Nothing
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
        data_dir=data_dir,
        deterministic=True,
        normalize=False,
        cache=False,
    )
    return bundle.train, bundle.validation
