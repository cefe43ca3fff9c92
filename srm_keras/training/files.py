"""Keras models and weights, saved atomically (through :mod:`srm_keras.storage`)."""

from __future__ import annotations

import math
import os

import keras
import numpy as np

from srm_keras.storage import replacing


def _state_bytes(model: keras.Model) -> int:
    """Bytes of the model's variables and its optimiser's: what a weights file holds, about."""
    variables = list(model.variables)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    return sum(math.prod(v.shape) * _itemsize(v.dtype) for v in variables)


def _itemsize(dtype) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:  # bfloat16, which NumPy does not know
        return 2


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save the architecture and weights, not the training state, atomically.

    A functional model is saved through a fresh ``keras.Model`` over the same layers, so the
    file has no optimizer or compile settings: it loads with ``keras.models.load_model`` after
    ``import srm_keras`` alone, at half the size (no momentum slots). Training state lives in
    the run's backup. The file is written to a temporary name in the same folder and renamed.
    """
    try:  # a functional model over the same layers (and variables)
        inference = keras.Model(model.inputs, model.outputs, name=model.name)
    except (AttributeError, TypeError, ValueError):  # a subclassed model: saved as it is
        inference = model
    with replacing(path, ".keras", needs_bytes=_state_bytes(inference)) as tmp:
        inference.save(tmp)


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """``model.save_weights`` (``*.weights.h5``) through a temporary file and a rename."""
    with replacing(path, ".weights.h5", needs_bytes=_state_bytes(model)) as tmp:
        model.save_weights(tmp)
