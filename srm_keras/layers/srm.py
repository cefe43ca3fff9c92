"""SRM: the style-based recalibration module."""

from __future__ import annotations

import keras
from keras import ops


def per_sample_pooling(training=None) -> bool:
    """Whether SRM pools one sample at a time in the current trace.

    Only for TensorFlow inference that XLA compiles for the CPU (``jit_compile=True`` without a
    visible GPU). There XLA fuses the centred sum of squares into one reduction over the whole
    batch, and the same arithmetic one sample at a time (a loop XLA compiles) measured faster,
    most likely because each sample's map is still in cache for the second read: 0.70 of the
    pooling's time and 0.99 of SRM-ResNet-50's inference time (BENCHMARKS.md). Nowhere else:
    without XLA the loop costs more than it saves, a loop over the batch would serialise a GPU,
    and training has not been measured. Both forms compute the same centred sums.
    """
    if training or keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    if tf.executing_eagerly() or tf.config.list_logical_devices("GPU"):
        return False
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # a TensorFlow without the helper: keep the batched form
        return False
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def _centred_sums_per_sample(x):
    """Mean and centred sum of squares of an (N, S, C) tensor, one sample at a time."""
    import tensorflow as tf

    def moments(sample):  # (S, C)
        mean = tf.reduce_mean(sample, axis=0)
        return mean, tf.reduce_sum(tf.square(sample - tf.stop_gradient(mean)), axis=0)

    return tf.map_fn(moments, x, fn_output_signature=(x.dtype, x.dtype))


def style_pool(
    inputs,
    ddof: int = 1,
    epsilon: float = 1e-5,
    statistics_dtype: str = "float32",
    training: bool | None = None,
):
    """SRM's style pooling: the per-channel mean and standard deviation over the positions.

    For an ``(N, H, W, C)`` input, in ``statistics_dtype``::

        mean[n, c] = sum_hw x[n, h, w, c] / (H W)
        std[n, c] = sqrt(sum_hw (x[n, h, w, c] - mean[n, c])^2 / max(H W - ddof, 1) + epsilon)

    Shared by :class:`StyleRecalibration` and its inference form
    :class:`~srm_keras.layers.FoldedStyleRecalibration`. ``training`` only picks between two
    forms of the same sums (:func:`per_sample_pooling`).

    Returns:
        ``(mean, std)``, each ``(N, C)``.
    """
    x = ops.cast(inputs, statistics_dtype)
    # (N, H*W, C): XLA reduces one axis several times faster than two adjacent ones, and
    # TensorFlow's kernels merge the two axes anyway.
    x = ops.reshape(x, (ops.shape(x)[0], -1, x.shape[-1]))
    spatial = ops.cast(ops.shape(x)[1], statistics_dtype)
    if per_sample_pooling(training):
        mean, squares = _centred_sums_per_sample(x)
    else:
        mean = ops.mean(x, axis=1)  # (N, C)
        # The gradient of the centred sum through the mean is exactly zero (the deviations
        # sum to zero), so holding the mean constant there leaves the gradient unchanged
        # and saves the backward pass a full-size product and reduction.
        centred = x - ops.stop_gradient(mean)[:, None, :]
        squares = ops.sum(ops.square(centred), axis=1)  # (N, C)
    variance = squares / ops.maximum(spatial - ddof, 1.0)
    return mean, ops.sqrt(variance + epsilon)


@keras.saving.register_keras_serializable(package="srm_keras")
class StyleRecalibration(keras.layers.Layer):
    """Style-based Recalibration Module (SRM).

    Lee, Kim and Nam, "SRM: A Style-based Recalibration Module for Convolutional Neural
    Networks", ICCV 2019 (arXiv:1903.10829).

    For every sample and channel the layer pools two style statistics, the mean and the standard
    deviation over the spatial positions, mixes them with a channel-wise fully connected layer
    (CFC: one weight per statistic and channel, no bias, zero-initialised), batch-normalises the
    result, and rescales the input by its sigmoid. Because the CFC starts at zero every gate is
    exactly 0.5 at initialisation. Trainable parameters: ``4 * channels``.

    The statistics, the CFC and the batch normalisation are computed in float32 under float16,
    bfloat16 and float32 policies, since squares of float16 activations overflow, and in float64
    under a float64 policy; the gate is cast back to the input's dtype before the product.

    Args:
        ddof: delta degrees of freedom of the variance: 1 (default) is the unbiased estimate of
            the official release, 0 the population variance of the paper's equation. The divisor
            is clamped to at least 1, so a 1x1 feature map gives a zero variance, never NaN.
        epsilon: added to the variance inside the square root.
        momentum: momentum of the batch normalisation's moving statistics (Keras convention:
            0.9 equals PyTorch's 0.1).
        bn_epsilon: epsilon of the batch normalisation.
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Input shape: ``(batch, height, width, channels)``. Output shape: the same.
    """

    #: The official training script applies no weight decay to SRM parameters.
    weight_decay_exempt = True

    def __init__(self, ddof=1, epsilon=1e-5, momentum=0.9, bn_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if ddof not in (0, 1):
            raise ValueError(
                f"ddof must be 1 (unbiased variance, the official release) or 0 "
                f"(population variance); received ddof={ddof!r}."
            )
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive; received epsilon={epsilon!r}.")
        self.ddof = ddof
        self.epsilon = epsilon
        self.momentum = momentum
        self.bn_epsilon = bn_epsilon
        # The gate is computed in float32 at least (see the class docstring).
        self.statistics_dtype = "float64" if self.compute_dtype == "float64" else "float32"
        self.bn = keras.layers.BatchNormalization(
            momentum=momentum, epsilon=bn_epsilon, dtype=self.statistics_dtype, name="bn"
        )

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "StyleRecalibration expects a 4D channels-last input (batch, height, width, "
                f"channels) with a known number of channels; received shape {input_shape}."
            )
        channels = input_shape[-1]
        # (C, 2): column 0 weighs the mean, column 1 the standard deviation.
        self.cfc = self.add_weight(
            name="cfc",
            shape=(channels, 2),
            initializer="zeros",
            dtype=self.statistics_dtype,
            autocast=False,
        )
        self.bn.build((None, channels))

    def style_pool(self, inputs, training=None):
        """Per-channel mean and standard deviation in ``statistics_dtype``, each (N, C):
        :func:`style_pool` with this layer's options."""
        return style_pool(inputs, self.ddof, self.epsilon, self.statistics_dtype, training)

    def call(self, inputs, training=None):
        mean, std = self.style_pool(inputs, training=training)
        z = mean * self.cfc[:, 0] + std * self.cfc[:, 1]  # (N, C)
        gate = ops.cast(ops.sigmoid(self.bn(z, training=training)), inputs.dtype)
        # The product on (N, H*W, C), so that the gate's gradient is a one-axis reduction too.
        x = ops.reshape(inputs, (ops.shape(inputs)[0], -1, inputs.shape[-1]))
        return ops.reshape(x * gate[:, None, :], ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def macs(self, input_shape) -> int:
        """Analytic per-sample multiply-accumulates: mean, squares, product (4 per element)."""
        _, height, width, channels = input_shape
        return 4 * height * width * channels + 2 * channels

    def get_config(self):
        config = super().get_config()
        config.update(
            ddof=self.ddof,
            epsilon=self.epsilon,
            momentum=self.momentum,
            bn_epsilon=self.bn_epsilon,
        )
        return config
