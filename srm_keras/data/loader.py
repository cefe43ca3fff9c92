"""``load_datasets``: from a dataset name or image folder to batched train and validation data."""

from __future__ import annotations

import dataclasses
import logging
import numbers
import os

import tensorflow as tf

from srm_keras.data import transforms
from srm_keras.data.pipeline import Cache, make_pipeline
from srm_keras.data.source import open_source

logger = logging.getLogger(__name__)

AUGMENTS = ("auto", *transforms.STYLES)
CIFAR_STYLE_MAX_SIZE = 64  # "auto" augmentation: CIFAR recipe up to 64 pixels, ImageNet above


@dataclasses.dataclass(frozen=True)
class DataBundle:
    """Batched training and validation data and what the model needs to know about it.

    ``train`` and ``validation`` yield ``(images float32 (N, H, W, 3), labels int32 (N,))``;
    ``skipped`` lists ``(path, reason)`` for undecodable image-folder files left out;
    ``augment`` is the augmentation style in use ("auto" resolved).
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    num_classes: int
    class_names: list[str]
    train_size: int
    validation_size: int
    skipped: list[tuple[str, str]]
    image_size: tuple[int, int]
    augment: str


def load_datasets(
    source: str | os.PathLike,
    *,
    image_size: int | tuple[int, int],
    batch_size: int,
    augment: str = "auto",
    validation_split: float = 0.2,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    deterministic: bool = False,
    cache: Cache = None,
    strict: bool = False,
    normalize: bool = True,
    shuffle_buffer: int | None = None,
    train_split: str | None = None,
    validation_split_name: str | None = None,
    download: bool = False,
) -> DataBundle:
    """Load ``source`` as batched, prefetched train and validation ``tf.data`` pipelines.

    ``source`` is "digits" (the embedded scikit-learn digits, prepared offline into
    ``data_dir``), a tensorflow-datasets name ("cifar10"), or an image folder with one
    sub-folder per class, optionally split into ``train/`` and ``val/`` (or ``validation/``,
    ``test/``). Images are resized or cropped to ``image_size`` (int or (height, width)) as
    3-channel RGB. A tensorflow-datasets name must be prepared in ``data_dir`` (ValueError
    naming the command that prepares it, at once and offline) unless ``download=True`` lets it
    be downloaded. An image folder's scan is remembered (:mod:`srm_keras.data.scan_manifest`).

    ``augment``: "imagenet", "cifar", "none" or "auto" ("cifar" up to 64 pixels, else
    "imagenet"); see :mod:`srm_keras.data.transforms`. Validation always uses the eval transform.
    ``validation_split``: the fraction held out (seeded; stratified by class for folders) when
    the source has no validation split. ``train_split``/``validation_split_name``: tfds split
    names or sub-folder names (defaults "train" and "validation", else "test"; folders also
    "val"). ``seed`` fixes the split, shuffle and augmentation; ``deterministic=True`` also fixes
    the element order of parallel maps. ``cache``: None caches splits whose decoded images fit
    in 1 GiB in memory, True/False forces it, a path caches to files there.
    ``shuffle_buffer``: examples buffered for shuffling (default: the whole split when cached
    or an image folder, else 8192). ``strict``: raise ValueError on undecodable image-folder
    files instead of skipping them. ``normalize``: ImageNet mean/std normalisation, or with
    False float32 RGB 0-255 pixels.
    """
    size = _image_size(image_size)
    _check_positive_int("batch_size", batch_size)
    if shuffle_buffer is not None:
        _check_positive_int("shuffle_buffer", shuffle_buffer)
    if augment not in AUGMENTS:
        raise ValueError(f"augment={augment!r} is not one of {AUGMENTS}.")
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
        raise ValueError(f"validation_split must be a number; got {validation_split!r}.")
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1; got {validation_split}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer; got {seed!r}.")
    style = augment if augment != "auto" else _auto_style(size)

    data = open_source(
        source,
        validation_split=float(validation_split),
        seed=int(seed),
        data_dir=data_dir,
        strict=strict,
        train_split=train_split,
        validation_split_name=validation_split_name,
        download=download,
    )
    common = dict(
        style=style,
        size=size,
        batch_size=batch_size,
        seed=int(seed),
        cache=cache,
        shuffle_buffer=shuffle_buffer,
        deterministic=deterministic,
        normalize=normalize,
        records_are_references=data.records_are_references,
    )
    train = make_pipeline(data.train, data.decode, name="train", training=True, **common)
    validation = make_pipeline(
        data.validation, data.decode, name="validation", training=False, **common
    )
    logger.info(
        "%s: %d classes, %d training and %d validation images, %dx%d, %s augmentation",
        os.fspath(source),
        len(data.class_names),
        data.train.size,
        data.validation.size,
        size[0],
        size[1],
        style,
    )
    return DataBundle(
        train=train,
        validation=validation,
        num_classes=len(data.class_names),
        class_names=list(data.class_names),
        train_size=data.train.size,
        validation_size=data.validation.size,
        skipped=list(data.skipped),
        image_size=size,
        augment=style,
    )


def _auto_style(size: tuple[int, int]) -> str:
    return "cifar" if max(size) <= CIFAR_STYLE_MAX_SIZE else "imagenet"


def _image_size(image_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(image_size, numbers.Integral):
        image_size = (image_size, image_size)
    if isinstance(image_size, str) or not hasattr(image_size, "__len__") or len(image_size) != 2:
        raise ValueError(f"image_size must be an int or (height, width); got {image_size!r}.")
    for value in image_size:
        _check_positive_int("image_size", value)
    return int(image_size[0]), int(image_size[1])


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
