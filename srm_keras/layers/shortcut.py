"""The parameter-free shortcut of the CIFAR ResNets (He et al. 2016, option A)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="srm_keras")
class PaddedIdentity(keras.layers.Layer):
    """Option-A shortcut: a strided identity whose new channels are zeros.

    The input is subsampled with ``strides`` (keeping positions 0, s, 2s, ..., as a 1x1 strided
    convolution would) and zero-padded on the channel axis, half of the new channels before and
    half after, to ``filters`` channels. No parameters.

    Args:
        filters: output channels (at least the input's).
        strides: spatial subsampling factor.
    """

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"filters must be a positive integer; received {filters!r}.")
        if not isinstance(strides, int) or strides < 1:
            raise ValueError(f"strides must be a positive integer; received {strides!r}.")
        self.filters = filters
        self.strides = strides

    def build(self, input_shape):
        if input_shape[-1] > self.filters:
            raise ValueError(
                f"PaddedIdentity can only add channels: the input has {input_shape[-1]}, "
                f"filters={self.filters}."
            )

    def call(self, inputs):
        s = self.strides
        x = inputs[:, ::s, ::s, :] if s > 1 else inputs
        extra = self.filters - inputs.shape[-1]
        if extra == 0:
            return x
        return ops.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))

    def compute_output_shape(self, input_shape):
        def sub(n):
            return None if n is None else (n + self.strides - 1) // self.strides

        return (input_shape[0], sub(input_shape[1]), sub(input_shape[2]), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides)
        return config
