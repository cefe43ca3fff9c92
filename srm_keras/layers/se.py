"""SE: squeeze-and-excitation."""

from __future__ import annotations

import keras
from keras import ops


def add_excitation_weights(layer: keras.layers.Layer, channels: int, reduction: int) -> None:
    """The excitation bottleneck's weights on ``layer``: C -> max(C // r, 1) -> C, with biases.

    Shared by SE and GE-θ⁺, which name them alike (checkpoint mapping relies on the names).
    """
    hidden = max(channels // reduction, 1)
    layer.squeeze_kernel = layer.add_weight(
        name="squeeze_kernel", shape=(channels, hidden), initializer="glorot_uniform"
    )
    layer.squeeze_bias = layer.add_weight(name="squeeze_bias", shape=(hidden,), initializer="zeros")
    layer.excite_kernel = layer.add_weight(
        name="excite_kernel", shape=(hidden, channels), initializer="glorot_uniform"
    )
    layer.excite_bias = layer.add_weight(name="excite_bias", shape=(channels,), initializer="zeros")


def excite(layer: keras.layers.Layer, context):
    """(N, C) context -> (N, C) gate logits through the bottleneck of ``add_excitation_weights``."""
    hidden = ops.relu(ops.matmul(context, layer.squeeze_kernel) + layer.squeeze_bias)
    return ops.matmul(hidden, layer.excite_kernel) + layer.excite_bias


def _positions(inputs):
    """(N, H, W, C) -> (N, H*W, C): XLA reduces one axis several times faster than two adjacent
    ones, in the pooling and in the gradient of the product alike."""
    return ops.reshape(inputs, (ops.shape(inputs)[0], -1, inputs.shape[-1]))


@keras.saving.register_keras_serializable(package="srm_keras")
class SqueezeExcitation(keras.layers.Layer):
    """Squeeze-and-Excitation (SE) channel recalibration.

    Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018.

    Global average pooling, a bottleneck of two fully connected layers with biases
    (``channels -> channels // reduction -> channels``, ReLU between), and a sigmoid gate that
    rescales the input. Trainable parameters: ``2 * C * (C // r) + C // r + C``.

    Args:
        reduction: reduction ratio of the bottleneck; the hidden width is
            ``max(channels // reduction, 1)``.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Input shape: ``(batch, height, width, channels)``. Output shape: the same.
    """

    weight_decay_exempt = False

    def __init__(self, reduction=16, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(reduction, int) or reduction < 1:
            raise ValueError(
                f"reduction must be a positive integer (the paper uses 16); "
                f"received reduction={reduction!r}."
            )
        self.reduction = reduction

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "SqueezeExcitation expects a 4D channels-last input with a known number of "
                f"channels; received shape {input_shape}."
            )
        channels = input_shape[-1]
        add_excitation_weights(self, channels, self.reduction)

    def gate(self, inputs, training=None):
        """The ``(N, C)`` gate the layer multiplies ``inputs`` by."""
        del training  # SE behaves alike in training and inference
        return self._gate_of_positions(_positions(inputs))

    def _gate_of_positions(self, x):
        return ops.sigmoid(excite(self, ops.mean(x, axis=1)))

    def call(self, inputs):
        x = _positions(inputs)
        return ops.reshape(x * self._gate_of_positions(x)[:, None, :], ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def macs(self, input_shape) -> int:
        """Analytic per-sample multiply-accumulates: pooling, both dense layers, product."""
        _, height, width, channels = input_shape
        hidden = max(channels // self.reduction, 1)
        return 2 * height * width * channels + 2 * channels * hidden

    def get_config(self):
        config = super().get_config()
        config.update(reduction=self.reduction)
        return config
