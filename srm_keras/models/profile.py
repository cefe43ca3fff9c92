"""Parameter and multiply-accumulate counts, as the papers count them."""

from __future__ import annotations

import math

import keras


def count_params(model: keras.Model) -> int:
    """Trainable parameters (the papers' count; BN moving statistics are not included)."""
    return sum(math.prod(weight.shape) for weight in model.trainable_weights)


def count_macs(model: keras.Model, input_shape: tuple[int, int, int] | None = None) -> int:
    """Analytic multiply-accumulates of one image through the model.

    Counts convolutions and dense layers, plus the per-element work of recalibration modules
    (any layer with a ``macs(input_shape)`` method), as docs/design.md §7 does; batch normalisation,
    activations, additions and pooling are not counted.

    Args:
        model: a functional model.
        input_shape: ``(height, width, channels)`` to count at, instead of the model's own
            input size (required when the model was built with a dynamic size).
    """
    if input_shape is not None:
        model = keras.models.clone_model(model, input_tensors=keras.Input(shape=input_shape))
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_macs(layer)
            continue
        if not isinstance(
            layer, keras.layers.DepthwiseConv2D | keras.layers.Conv2D | keras.layers.Dense
        ) and not hasattr(layer, "macs"):
            continue
        in_shape = tuple(layer.input.shape)
        if any(side is None for side in in_shape[1:]):
            raise ValueError(
                f"Layer {layer.name!r} has input shape {in_shape}: the model has a dynamic input "
                "size; pass input_shape=(height, width, channels)."
            )
        total += _layer_macs(layer, in_shape)
    return total


def _layer_macs(layer, in_shape) -> int:
    if hasattr(layer, "macs"):
        return int(layer.macs(in_shape))
    out_shape = tuple(layer.output.shape)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return math.prod(out_shape[1:]) * kh * kw
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        return math.prod(out_shape[1:]) * kh * kw * in_shape[-1] // layer.groups
    # Dense: every position of its input is a matrix-vector product.
    return math.prod(in_shape[1:]) * layer.units
