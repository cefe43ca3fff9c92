"""What every data source hands to the pipeline, and the choice of source from ``source``."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

DIGITS = "digits"


@dataclasses.dataclass(frozen=True)
class Split:
    """One split before decoding.

    ``records`` is an unbatched, unshuffled dataset whose elements ``decode`` (of the owning
    :class:`SourceData`) maps to ``(uint8 image (H, W, 3), int32 label)``. ``decoded_bytes``
    estimates the split's size once decoded (None when unknown), to decide on caching.
    """

    records: tf.data.Dataset
    size: int
    decoded_bytes: int | None


@dataclasses.dataclass(frozen=True)
class SourceData:
    """A source's train and validation splits and what is known about its classes.

    ``records_are_references`` is True when records are file references, cheap enough to
    shuffle the whole split before decoding.
    """

    train: Split
    validation: Split
    decode: Callable[..., tuple[tf.Tensor, tf.Tensor]]
    class_names: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    records_are_references: bool = False


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Mask of the examples held out for validation: ``round(fraction * n)`` of each class's
    ``n`` examples (at least one left for training), drawn by a generator seeded with ``seed``.
    """
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    unvalidated = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = min(round(len(members) * fraction), len(members) - 1)
        held[rng.permutation(members)[:count]] = True
        if count == 0:
            unvalidated.append(int(label))
    if unvalidated and held.any():
        logger.warning(
            "classes %s have too few examples for validation_split=%g to hold one out: they "
            "are validated on nothing. Add examples or give the source a validation split.",
            unvalidated,
            fraction,
        )
    if not held.any():
        raise ValueError(
            f"validation_split={fraction} of {len(labels)} examples holds out none; use a "
            "larger fraction or more data (or a source with its own validation split)."
        )
    return held


def is_folder_source(source: str | os.PathLike) -> bool:
    """Whether ``source`` names an image folder (rather than a dataset name).

    Path objects, existing directories and strings that start like a path ("/", "./", "../",
    "~") are folders; other strings are dataset names ("digits" always is one: write
    "./digits" for a folder of that name).
    """
    if isinstance(source, os.PathLike):
        return True
    if source == DIGITS:
        return False
    if Path(source).expanduser().is_dir():
        return True
    prefixes = ("/", "./", "../", "~", "." + os.sep, ".." + os.sep, os.sep)
    return source.startswith(prefixes) or (os.sep != "/" and os.sep in source)


def open_source(
    source: str | os.PathLike,
    *,
    validation_split: float,
    seed: int,
    data_dir: str | os.PathLike | None,
    strict: bool,
    train_split: str | None,
    validation_split_name: str | None,
    download: bool = False,
) -> SourceData:
    """The :class:`SourceData` of an image folder, the embedded digits or a tfds dataset.

    A tfds dataset that is not prepared in ``data_dir`` is downloaded only with ``download``.
    """
    if is_folder_source(source):
        from srm_keras.data.folder import folder_source

        return folder_source(
            source,
            validation_split=validation_split,
            seed=seed,
            strict=strict,
            train_split=train_split,
            validation_split_name=validation_split_name,
        )
    from srm_keras.data import tfds_source

    if source == DIGITS:
        builder = tfds_source.digits_builder(data_dir)
        download = True  # the digits are built from scikit-learn's copy: no network
    else:
        builder = tfds_source.named_builder(source, data_dir)
    tfds_source.ensure_prepared(builder, download=download)
    return tfds_source.tfds_data(
        builder,
        validation_split=validation_split,
        seed=seed,
        train_split=train_split,
        validation_split_name=validation_split_name,
    )
