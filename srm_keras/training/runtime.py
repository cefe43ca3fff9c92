"""Where and how a run executes: distribution strategy, XLA, determinism (the precision policy
is in :mod:`srm_keras.training.precision`)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

import keras
import tensorflow as tf

from srm_keras.training.config import STRATEGIES

logger = logging.getLogger(__name__)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``"default"``: the current (single-device) strategy. ``"mirrored"``: synchronous data
    parallelism over every local GPU, or over every logical CPU device when there is no GPU
    (which is how it is tested on CPU-only machines)."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy={name!r} is not supported; use one of {list(STRATEGIES)}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        raise ValueError(
            "strategy 'multi_worker' runs through srm_keras.distributed.train_multi_worker "
            "(`srm-keras worker` launches it)."
        )
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    if len(devices) < 2:
        logger.warning(
            "strategy 'mirrored' found one device (%s); it runs as one replica.", devices
        )
    return tf.distribute.MirroredStrategy(devices=devices)


def has_accelerator() -> bool:
    return any(d.device_type != "CPU" for d in tf.config.list_physical_devices())


def resolve_jit_compile(setting: str, strategy: tf.distribute.Strategy) -> bool:
    """``"true"``/``"false"`` as given; ``"auto"`` turns XLA on only on a GPU/TPU.

    On CPU, XLA made a CIFAR ResNet-20 training step slower in our measurements (see
    models/README.md), and Keras itself keeps XLA off under multi-replica ``tf.distribute``.
    """
    if setting == "true":
        return True
    if setting == "false":
        return False
    return has_accelerator() and strategy.num_replicas_in_sync == 1


def progress_verbosity(setting: str) -> int:
    """Keras' ``verbose`` for a ``progress`` setting: ``"auto"`` is the progress bar on a
    terminal and one line per epoch otherwise (Keras' own "auto" draws the bar, escape codes
    and all, into a redirected log)."""
    if setting == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(setting)


@contextlib.contextmanager
def seeded(seed: int | None, deterministic: bool) -> Iterator[None]:
    """Seed Python, NumPy and TensorFlow; with ``deterministic``, make TF ops deterministic
    (``tf.config.experimental.enable_op_determinism``) until the block ends.

    Op determinism is process-wide; it is switched off again afterwards unless it was already on,
    because it makes every later unseeded random op in the process raise an error.
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    was_on = _op_determinism_enabled()
    if deterministic and not was_on:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if deterministic and not was_on:
            _disable_op_determinism()


def _op_determinism_enabled() -> bool:
    from tensorflow.python.framework import config as tf_config  # no public getter

    return bool(tf_config.is_op_determinism_enabled())


def _disable_op_determinism() -> None:
    from tensorflow.python.framework import config as tf_config  # no public switch-off

    tf_config.disable_op_determinism()
