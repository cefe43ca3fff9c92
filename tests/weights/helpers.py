"""Keras-side helpers of the weight-conversion tests."""

from __future__ import annotations

import math

import keras
import numpy as np

import srm_keras


def randomize(model: keras.Model, seed: int = 0) -> keras.Model:
    """Random weights and batch-norm statistics, scaled so that activations stay near 1."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        name = variable.path.rsplit("/", 1)[-1]
        if name in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("kernel"):
            # (kh, kw, C, 1) depthwise kernels read kh * kw inputs; the others prod(shape[:-1]).
            fan_in = math.prod(shape[:2]) if name == "gather_kernel" else math.prod(shape[:-1])
            value = rng.normal(0.0, 1.0, shape) / math.sqrt(fan_in)
        elif name == "cfc":
            value = rng.normal(0.0, 1.0, shape)
        else:  # beta, moving_mean, biases
            value = rng.normal(0.0, 0.1, shape)
        variable.assign(value.astype("float32"))
    return model


def images(size: int, batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, size, size, 3)).astype("float32")


def build(depth: int, module=None, size: int = 64, **kwargs) -> keras.Model:
    """A small model (``size`` x ``size`` inputs) that outputs logits."""
    kwargs.setdefault("classifier_activation", None)
    return srm_keras.resnet(depth, module, input_shape=(size, size, 3), **kwargs)


def outputs(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))
