"""Batched tf.data pipelines: decode -> (cache) -> shuffle -> augment + normalise -> batch.

Training pipelines are reproducible under a seed: the shuffle is seeded, and every element is
paired, before any parallel map, with its own stateless seed drawn from a seeded
``tf.data.Dataset.random`` stream that changes every epoch. With ``deterministic=True`` two runs
with the same seed therefore give the same batches; with ``deterministic=False`` parallel maps
may reorder elements (faster), but each image still gets the augmentation of its seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from srm_keras.data import transforms
from srm_keras.data.source import Split
from srm_keras.preprocessing import IMAGENET_MEAN, IMAGENET_STD

AUTOTUNE = tf.data.AUTOTUNE
AUTO_CACHE_BYTES = 1 << 30  # cache splits whose decoded images fit in 1 GiB
STREAM_SHUFFLE_BUFFER = 8192  # examples buffered when shuffling a streamed (tfds) split
_SHUFFLE_STREAM, _AUGMENT_STREAM = 0, 1

Cache = bool | str | os.PathLike | None


def derive_seed(seed: int, stream: int) -> int:
    """An independent op seed for one random ``stream`` of a pipeline seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def normalize_images(images: tf.Tensor) -> tf.Tensor:
    """0-255 RGB to the models' input convention (as ``srm_keras.preprocessing.preprocess_input``).

    Written with TensorFlow ops so that it runs inside tf.data whatever the Keras backend.
    """
    mean = tf.constant(IMAGENET_MEAN, tf.float32)
    std = tf.constant(IMAGENET_STD, tf.float32)
    return (tf.cast(images, tf.float32) / 255.0 - mean) / std


def cache_target(cache: Cache, split: Split, name: str) -> str | None:
    """Where ``split`` is cached: "" in memory, a file prefix, or None for no cache.

    ``cache=None`` caches in memory when the decoded split is known to fit in
    :data:`AUTO_CACHE_BYTES`; a path caches to files ``<path>.<name>*``.
    """
    if cache is None:
        small = split.decoded_bytes is not None and split.decoded_bytes <= AUTO_CACHE_BYTES
        return "" if small else None
    if isinstance(cache, bool):
        return "" if cache else None
    prefix = os.path.expanduser(os.fspath(cache))
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    return f"{prefix}.{name}"


def make_pipeline(
    split: Split,
    decode: Callable[..., tuple[tf.Tensor, tf.Tensor]],
    *,
    name: str,
    training: bool,
    style: str,
    size: transforms.Size,
    batch_size: int,
    seed: int,
    cache: Cache,
    shuffle_buffer: int | None,
    deterministic: bool,
    normalize: bool,
    records_are_references: bool,
) -> tf.data.Dataset:
    """Batches of ``(images float32 (N, H, W, 3), labels int32 (N,))`` from one split.

    Training pipelines shuffle (``shuffle_buffer`` examples; by default the whole split when it
    is cached or made of file references, else :data:`STREAM_SHUFFLE_BUFFER`) and augment with
    ``style``; others apply the style's eval transform in order. Images are normalised when
    ``normalize``, else float32 0-255 pixels.
    """
    target = cache_target(cache, split, name)
    dataset = split.records
    if target is not None:
        dataset = dataset.map(decode, num_parallel_calls=AUTOTUNE).cache(target)
    if training:
        whole = target is not None or records_are_references
        buffer = shuffle_buffer or (split.size if whole else STREAM_SHUFFLE_BUFFER)
        dataset = dataset.shuffle(
            max(1, min(buffer, split.size)),
            seed=derive_seed(seed, _SHUFFLE_STREAM),
            reshuffle_each_iteration=True,
        )
    if target is None:
        dataset = dataset.map(decode, num_parallel_calls=AUTOTUNE)
    finish = normalize_images if normalize else tf.identity
    if training:
        augment = transforms.train_transform(style, size)
        seeds = tf.data.Dataset.random(
            seed=derive_seed(seed, _AUGMENT_STREAM), rerandomize_each_iteration=True
        ).batch(2)  # one stateless (2,) seed per element
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda example, element_seed: (finish(augment(example[0], element_seed)), example[1]),
            num_parallel_calls=AUTOTUNE,
        )
    else:
        evaluate = transforms.eval_transform(style, size)
        dataset = dataset.map(
            lambda image, label: (finish(evaluate(image)), label), num_parallel_calls=AUTOTUNE
        )
    dataset = dataset.batch(batch_size, num_parallel_calls=AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = deterministic
    return dataset.prefetch(AUTOTUNE).with_options(options)
