"""Input pipeline throughput: how many images per second the training pipeline decodes and
augments, per core, on JPEG files written for the benchmark.

The pipeline timed is the one training uses (:func:`srm_keras.data.load_datasets` on an image
folder with the ImageNet recipe: decode JPEG, random resized crop, horizontal flip, batch,
normalise), uncached, so every image is decoded every epoch. Its tf.data private thread pool
is limited to ``threads`` threads, which is how many cores it can keep busy.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from srm_keras import storage
from srm_keras.data import load_datasets

logger = logging.getLogger(__name__)

SOURCE_SIZE = (375, 500)  # (height, width): a typical ImageNet photo
JPEG_QUALITY = 90
GRAIN = 16.0  # noise level that brings the mean file to ~90 KB (ImageNet averages ~110 KB)


def write_jpegs(
    directory: str | os.PathLike,
    count: int,
    *,
    size: tuple[int, int] = SOURCE_SIZE,
    classes: int = 2,
    seed: int = 0,
    quality: int = JPEG_QUALITY,
) -> Path:
    """Write ``count`` synthetic photos as an image folder: ``train/<class>/*.jpg`` and one
    image per class in ``val/<class>/``.

    The images are smooth random colour fields plus grain, which compress like photographs
    (uniform noise would make files several times larger and slower to decode than real ones).
    Returns the folder.
    """
    if count < classes:
        raise ValueError(f"count must be at least classes={classes}; received count={count}.")
    root = Path(directory)
    rng = np.random.default_rng(seed)
    height, width = size
    for split, number in (("train", count), ("val", classes)):
        for index in range(number):
            folder = root / split / f"class{index % classes}"
            folder.mkdir(parents=True, exist_ok=True)
            coarse = rng.uniform(0, 255, size=(1, 6, 8, 3)).astype(np.float32)
            field = tf.image.resize(coarse, size, method="bicubic")[0]
            grain = rng.normal(0, GRAIN, size=(height, width, 3)).astype(np.float32)
            pixels = tf.cast(tf.clip_by_value(field + grain, 0, 255), tf.uint8)
            data = tf.io.encode_jpeg(pixels, quality=quality)
            tf.io.write_file(str(folder / f"image{index:05d}.jpg"), data)
    return root


def _with_threads(dataset: tf.data.Dataset, threads: int) -> tf.data.Dataset:
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    options.threading.max_intra_op_parallelism = 1
    return dataset.with_options(options)


def _time_batches(dataset: tf.data.Dataset, warmup: int, batches: int) -> tuple[float, int]:
    """Seconds and images for ``batches`` batches of a fresh iterator, after ``warmup``."""
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    images = 0
    start = time.perf_counter()
    for _ in range(batches):
        images += int(next(iterator)[0].shape[0])
    return time.perf_counter() - start, images


def pipeline_benchmark(
    *,
    threads: Sequence[int] = (1, 2),
    image_size: int = 224,
    batch_size: int = 16,
    images: int = 128,
    batches: int | None = None,
    repeats: int = 3,
    warmup_batches: int = 2,
    directory: str | os.PathLike | None = None,
    seed: int = 0,
) -> tuple[list[dict], dict]:
    """Images per second of the training input pipeline for each thread-pool size.

    Thread settings are interleaved round by round, like the models. Each repetition opens a
    fresh iterator, discards ``warmup_batches`` and times ``batches`` (default: one epoch of
    ``images``).

    Args:
        threads: sizes of the tf.data private thread pool to compare.
        image_size: output side of the random resized crop.
        batch_size: images per batch.
        images: JPEGs to generate (when ``directory`` is None) in a temporary folder.
        batches: timed batches per repetition.
        repeats: timed repetitions per thread setting.
        warmup_batches: untimed batches at the start of each repetition.
        directory: an existing image folder to read instead of generated JPEGs.
        seed: seed of the generated images and of the augmentation.

    Returns:
        ``(rows, settings)``: one row per thread setting (see
        :data:`srm_keras.benchmark.report.PIPELINE_COLUMNS`) and what was measured.
    """
    for name, value in (
        ("image_size", image_size),
        ("batch_size", batch_size),
        ("images", images),
        ("repeats", repeats),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer; received {value!r}.")
    if not threads or any(not isinstance(t, int) or t < 1 for t in threads):
        raise ValueError(f"threads must be positive integers; received {threads!r}.")
    with storage.scratch("srm_keras_jpegs") as scratch:
        root = Path(directory) if directory is not None else write_jpegs(scratch, images, seed=seed)
        files = sorted((root / "train").rglob("*.jpg")) or sorted(root.rglob("*.jpg"))
        mean_bytes = int(np.mean([f.stat().st_size for f in files])) if files else None
        bundle = load_datasets(
            str(root),
            image_size=image_size,
            batch_size=batch_size,
            augment="imagenet",
            cache=False,
            seed=seed,
        )
        per_epoch = -(-bundle.train_size // batch_size)
        batches = per_epoch if batches is None else batches
        datasets = {t: _with_threads(bundle.train.repeat(), t) for t in threads}
        seconds = {t: [] for t in threads}
        counts = {t: [] for t in threads}
        for round_index in range(repeats):
            for t in threads:
                elapsed, count = _time_batches(datasets[t], warmup_batches, batches)
                seconds[t].append(elapsed)
                counts[t].append(count)
            logger.info("input pipeline round %d/%d done", round_index + 1, repeats)
    rows = []
    for t in threads:
        rates = [c / s for c, s in zip(counts[t], seconds[t])]
        median_rate = statistics.median(rates)
        rows.append(
            {
                "threads": t,
                "batch_size": batch_size,
                "image_size": image_size,
                "repeats": repeats,
                "batches_per_repeat": batches,
                "median_s": statistics.median(seconds[t]) / batches,
                "min_s": min(seconds[t]) / batches,
                "max_s": max(seconds[t]) / batches,
                "images_per_s": median_rate,
                "images_per_s_per_thread": median_rate / t,
            }
        )
    settings = {
        "images": bundle.train_size,
        "source_size": list(SOURCE_SIZE) if directory is None else None,
        "mean_file_bytes": mean_bytes,
        "directory": None if directory is None else os.fspath(directory),
        "augment": "imagenet",
        "warmup_batches": warmup_batches,
        "seed": seed,
    }
    return rows, settings
