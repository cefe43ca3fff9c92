"""Input pipelines of a multi-worker run: the single-machine pipelines, split between workers.

Every worker builds the same batched pipeline as single-machine training, from the same seed,
and ``tf.distribute`` keeps its part of each global batch (auto-shard policy ``DATA``): with W
workers, worker i trains on the i-th 1/W slice of every global batch. Sharding by position is
only correct if every worker produces the batches in the same order, so element order is made
deterministic even when the run itself is not. Each worker therefore decodes and augments the
whole dataset and keeps 1/W of it; the global batches are those of single-machine training,
each split as ``MirroredStrategy`` splits it over W replicas.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow as tf

from srm_keras.training.config import TrainConfig
from srm_keras.training.recipe import feeds_of


@dataclasses.dataclass(frozen=True)
class RunInputs:
    """The global-batch pipelines of a run and its number of steps per epoch.

    ``train`` repeats without end (an epoch is ``steps`` batches, one pass over the data unless
    ``steps_per_epoch`` caps it); ``validation`` is one pass.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    steps: int


def run_inputs(config: TrainConfig, data: Any) -> RunInputs:
    """The datasets ``srm_keras.training.train`` feeds to ``fit``, ready to shard.

    ``data`` is a ``DataBundle`` (or any object with the same fields), built the same way on
    every worker.
    """
    feeds = feeds_of(config, data)
    return RunInputs(
        train=shardable(feeds.train),
        validation=shardable(feeds.validation),
        steps=feeds.steps,
    )


def shardable(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` with a deterministic element order and data (not file) auto-sharding."""
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def check_batch_size(batch_size: int, replicas: int, workers: int) -> int:
    """The per-replica batch size; ValueError unless ``batch_size`` splits evenly."""
    if batch_size % replicas:
        raise ValueError(
            f"batch_size={batch_size} (the global batch) does not split evenly over "
            f"{replicas} replicas on {workers} workers; use a multiple of {replicas}, e.g. "
            f"{replicas * max(1, round(batch_size / replicas))}."
        )
    return batch_size // replicas
