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

    The pooling of :class:`StyleRecalibration`; its inference form pools the same sums over
    the map itself (:func:`srm_keras.layers.folded.map_statistics`). ``training`` only picks
    between two forms of the same sums (:func:`per_sample_pooling`).

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


#: The statistics SRM can pool, in the order their columns and rows take in the weights.
POOLINGS = ("mean", "std", "max")
#: The style integrations: the paper's channel-wise fully connected layer, or an SE-like MLP.
INTEGRATIONS = ("cfc", "mlp")
DEFAULT_POOLING = ("mean", "std")


def pooling_tuple(pooling) -> tuple[str, ...]:
    """``pooling`` as a tuple in the order of :data:`POOLINGS`; ValueError when it is not a
    non-empty set of those names (a single name may be given as a string)."""
    names = (pooling,) if isinstance(pooling, str) else pooling
    try:
        names = list(names)
    except TypeError:
        names = [names]
    unknown = [name for name in names if name not in POOLINGS]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(
            f"pooling must be a non-empty subset of {list(POOLINGS)} without repetitions, e.g. "
            f"['mean', 'std'] (the paper's) or ['mean']; received pooling={pooling!r}."
        )
    return tuple(name for name in POOLINGS if name in names)


def pool_statistics(
    inputs,
    pooling=DEFAULT_POOLING,
    ddof: int = 1,
    epsilon: float = 1e-5,
    statistics_dtype: str = "float32",
    training: bool | None = None,
):
    """The statistics of ``pooling``, in its order, each ``(N, C)``, in
    ``statistics_dtype``: the mean and standard deviation of :func:`style_pool` and the
    maximum over the positions. The mean and std together cost what ``std`` alone does."""
    pooled = {}
    if "std" in pooling:
        pooled["mean"], pooled["std"] = style_pool(
            inputs, ddof, epsilon, statistics_dtype, training
        )
    if set(pooling) - set(pooled):
        x = ops.reshape(inputs, (ops.shape(inputs)[0], -1, inputs.shape[-1]))  # (N, H*W, C)
        if "mean" in pooling and "mean" not in pooled:
            pooled["mean"] = ops.mean(ops.cast(x, statistics_dtype), axis=1)
        if "max" in pooling:
            # The widening cast is exact and monotonic, so it commutes with the maximum.
            pooled["max"] = ops.cast(ops.max(x, axis=1), statistics_dtype)
    return [pooled[name] for name in pooling]


def srm_parameters(
    channels: int, pooling=DEFAULT_POOLING, integration: str = "cfc", reduction: int = 16
) -> int:
    """Trainable parameters of one :class:`StyleRecalibration` on ``channels`` channels.

    With ``P = len(pooling)`` and ``h = max(channels // reduction, 1)``: ``(P + 2) C`` for the
    CFC (``P C`` weights, BN gamma and beta), ``P C h + h + h C + 2 C`` for the MLP (first
    dense layer with bias, second without, BN gamma and beta). The default is ``4 C``.
    """
    if integration not in INTEGRATIONS:
        raise ValueError(f"integration must be one of {INTEGRATIONS}; received {integration!r}.")
    width = len(pooling_tuple(pooling)) * channels
    if integration == "cfc":
        return width + 2 * channels
    hidden = max(channels // reduction, 1)
    return width * hidden + hidden + hidden * channels + 2 * channels


@keras.saving.register_keras_serializable(package="srm_keras")
class StyleRecalibration(keras.layers.Layer):
    """Style-based Recalibration Module (SRM), and the ablation variants of its two parts.

    Lee, Kim and Nam, "SRM: A Style-based Recalibration Module for Convolutional Neural
    Networks", ICCV 2019 (arXiv:1903.10829).

    For every sample and channel the layer pools two style statistics, the mean and the standard
    deviation over the spatial positions, mixes them with a channel-wise fully connected layer
    (CFC: one weight per statistic and channel, no bias, zero-initialised), batch-normalises the
    result, and rescales the input by its sigmoid. Because the CFC starts at zero every gate is
    exactly 0.5 at initialisation. Trainable parameters: ``4 * channels``.

    The paper's ablations replace one part at a time (docs/design.md §1):

    * ``pooling``: any non-empty subset of ``"mean"``, ``"std"`` and ``"max"`` (the maximum
      over the positions). With ``P`` statistics the CFC has ``P`` weights per channel:
      ``(P + 2) * channels`` parameters (``3C`` for ``srm_mean`` and ``srm_std``).
    * ``integration="mlp"``: the ``P`` statistics of all channels, concatenated channel by
      channel (row ``c * P + j`` of the first kernel weighs statistic ``j`` of channel ``c``),
      go through an SE-like bottleneck, dense ``P C -> h`` with bias, ReLU, dense ``h -> C``
      without bias, before the same BN and sigmoid (``h = max(C // reduction, 1)``). The BN is
      kept so that only the integration changes; it makes a second bias redundant. The second
      kernel starts at zero, so the gates start at 0.5 here too. Parameters:
      ``P C h + h + h C + 2 C`` (``3 C h + h + 2 C`` for ``srm_mlp``).

    :func:`srm_parameters` gives these counts. The statistics, the integration and the batch
    normalisation are computed in float32 under float16, bfloat16 and float32 policies, since
    squares of float16 activations overflow, and in float64 under a float64 policy; the gate
    is cast back to the input's dtype before the product.

    Args:
        ddof: delta degrees of freedom of the variance: 1 (default) is the unbiased estimate of
            the official release, 0 the population variance of the paper's equation. The divisor
            is clamped to at least 1, so a 1x1 feature map gives a zero variance, never NaN.
        epsilon: added to the variance inside the square root.
        momentum: momentum of the batch normalisation's moving statistics (Keras convention:
            0.9 equals PyTorch's 0.1).
        bn_epsilon: epsilon of the batch normalisation.
        pooling: the statistics pooled, kept in the order mean, std, max whatever the order
            given; default ``("mean", "std")``, the paper's.
        integration: ``"cfc"`` (default, the paper's) or ``"mlp"``.
        reduction: the MLP's reduction ratio (16, as SE); only with ``integration="mlp"``.
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    ``get_config()`` returns every argument above; configs saved before ``pooling``,
    ``integration`` and ``reduction`` existed load as the default SRM.

    Input shape: ``(batch, height, width, channels)``. Output shape: the same.
    """

    #: The official training script applies no weight decay to SRM parameters. The variants
    #: keep the exemption, so that an ablation changes one part of the module and not the
    #: recipe (docs/design.md §1).
    weight_decay_exempt = True

    def __init__(
        self,
        ddof=1,
        epsilon=1e-5,
        momentum=0.9,
        bn_epsilon=1e-5,
        pooling=DEFAULT_POOLING,
        integration="cfc",
        reduction=16,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if ddof not in (0, 1):
            raise ValueError(
                f"ddof must be 1 (unbiased variance, the official release) or 0 "
                f"(population variance); received ddof={ddof!r}."
            )
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive; received epsilon={epsilon!r}.")
        if integration not in INTEGRATIONS:
            raise ValueError(
                f"integration must be 'cfc' (the paper's channel-wise fully connected layer) or "
                f"'mlp' (an SE-like bottleneck); received integration={integration!r}."
            )
        if not isinstance(reduction, int) or isinstance(reduction, bool) or reduction < 1:
            raise ValueError(f"reduction must be a positive integer; received {reduction!r}.")
        if integration == "cfc" and reduction != 16:
            raise ValueError(
                f"reduction sets the width of the MLP integration; with integration='cfc' it "
                f"has no effect: pass integration='mlp' or leave reduction out "
                f"(received reduction={reduction!r})."
            )
        self.ddof = ddof
        self.epsilon = epsilon
        self.momentum = momentum
        self.bn_epsilon = bn_epsilon
        self.pooling = pooling_tuple(pooling)
        self.integration = integration
        self.reduction = reduction
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
        statistics = len(self.pooling)
        options = {"dtype": self.statistics_dtype, "autocast": False}
        if self.integration == "cfc":
            # (C, P): column j weighs statistic j of self.pooling (0 the mean, 1 the std).
            self.cfc = self.add_weight(
                name="cfc", shape=(channels, statistics), initializer="zeros", **options
            )
        else:
            hidden = max(channels // self.reduction, 1)
            self.squeeze_kernel = self.add_weight(
                name="squeeze_kernel",
                shape=(channels * statistics, hidden),
                initializer="glorot_uniform",
                **options,
            )
            self.squeeze_bias = self.add_weight(
                name="squeeze_bias", shape=(hidden,), initializer="zeros", **options
            )
            self.excite_kernel = self.add_weight(
                name="excite_kernel", shape=(hidden, channels), initializer="zeros", **options
            )
        self.bn.build((None, channels))

    def style_pool(self, inputs, training=None):
        """Per-channel mean and standard deviation in ``statistics_dtype``, each (N, C):
        :func:`style_pool` with this layer's options (whatever its ``pooling``)."""
        return style_pool(inputs, self.ddof, self.epsilon, self.statistics_dtype, training)

    def pool_statistics(self, inputs, training=None):
        """This layer's ``pooling`` statistics, each (N, C): :func:`pool_statistics`."""
        return pool_statistics(
            inputs, self.pooling, self.ddof, self.epsilon, self.statistics_dtype, training
        )

    def integrate(self, statistics):
        """The gate's logits before the batch normalisation, (N, C), from the pooled list."""
        if self.integration == "cfc":
            z = statistics[0] * self.cfc[:, 0]
            for column, statistic in enumerate(statistics[1:], start=1):
                z = z + statistic * self.cfc[:, column]
            return z  # (N, C)
        stacked = ops.stack(statistics, axis=-1)  # (N, C, P)
        pooled = ops.reshape(stacked, (-1, self.squeeze_kernel.shape[0]))  # (N, C * P)
        hidden = ops.relu(ops.matmul(pooled, self.squeeze_kernel) + self.squeeze_bias)
        return ops.matmul(hidden, self.excite_kernel)

    def gate(self, inputs, training=None):
        """The ``(N, C)`` gate the layer multiplies ``inputs`` by, in the statistics dtype."""
        z = self.integrate(self.pool_statistics(inputs, training=training))
        return ops.sigmoid(self.bn(z, training=training))

    def call(self, inputs, training=None):
        gate = ops.cast(self.gate(inputs, training), inputs.dtype)
        # The product on (N, H*W, C), so that the gate's gradient is a one-axis reduction too.
        x = ops.reshape(inputs, (ops.shape(inputs)[0], -1, inputs.shape[-1]))
        return ops.reshape(x * gate[:, None, :], ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def macs(self, input_shape) -> int:
        """Analytic per-sample multiply-accumulates: per element one for the product, three
        for the std (the mean, the centred square-and-accumulate), one for a mean without
        the std and one for the maximum; then the integration's weights. The default SRM:
        ``4 H W C + 2 C``."""
        _, height, width, channels = input_shape
        if "std" in self.pooling:
            per_element = 4 + ("max" in self.pooling)
        else:
            per_element = 1 + len(self.pooling)
        integration = len(self.pooling) * channels
        if self.integration == "mlp":
            hidden = max(channels // self.reduction, 1)
            integration = integration * hidden + hidden * channels
        return per_element * height * width * channels + integration

    def get_config(self):
        config = super().get_config()
        config.update(
            ddof=self.ddof,
            epsilon=self.epsilon,
            momentum=self.momentum,
            bn_epsilon=self.bn_epsilon,
            pooling=list(self.pooling),
            integration=self.integration,
            reduction=self.reduction,
        )
        return config
