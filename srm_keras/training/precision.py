"""The Keras dtype policy a model is built under (no TensorFlow: every backend uses it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from srm_keras.training.config import PRECISIONS


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set the global Keras dtype policy for building a model, and restore the previous one.

    Under ``mixed_float16``, ``Model.compile`` wraps the optimiser in a ``LossScaleOptimizer``
    (dynamic loss scaling); ``mixed_bfloat16`` has float32's range and needs no scaling.
    ``float64`` also sets Keras' ``floatx``, so that the losses and metrics created in the block
    compute in float64 too: it is for numerical reference runs, where float32 rounding would be
    amplified by training (see docs/numerics.md), not for speed.
    """
    if name not in PRECISIONS:
        raise ValueError(f"precision={name!r} is not supported; use one of {list(PRECISIONS)}.")
    previous, previous_floatx = keras.mixed_precision.global_policy(), keras.config.floatx()
    keras.mixed_precision.set_global_policy(name)
    if name == "float64":
        keras.config.set_floatx("float64")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
        keras.config.set_floatx(previous_floatx)
