"""Inference forms of SRM and GE, with each module's batch normalisation folded into its map.

At inference a batch normalisation is the per-channel affine map ``BN(z) = s * z + t`` with
``s = gamma / sqrt(moving_variance + bn_epsilon)`` and ``t = beta - s * moving_mean``, so it
folds into the affine map that produces ``z``. The layers here hold the folded weights; their
``from_module`` classmethods compute them from a trained module, and
:func:`srm_keras.export.folding.fold_model` swaps them into a whole model.

They are not recalibration modules of the registry (:func:`srm_keras.layers.names`): they
start at zero, have no batch normalisation to train, and the GE form is only ever built from
a trained module. The registry's shared layer checks therefore do not cover them;
``tests/layers/test_folded.py`` does.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from srm_keras.layers.ge import GLOBAL, GatherExcitation
from srm_keras.layers.mssar import MultiScaleSpatialRecalibration, fuse_scales
from srm_keras.layers.se import SqueezeExcitation, add_excitation_weights
from srm_keras.layers.srm import (
    DEFAULT_POOLING,
    StyleRecalibration,
    pooling_tuple,
)


def map_statistics(inputs, pooling, ddof, epsilon, statistics_dtype, mean=None):
    """The statistics of :func:`~srm_keras.layers.srm.pool_statistics`, each ``(N, 1, 1, C)``;
    ``mean``, when given, is the input's channel means, computed elsewhere (:func:`takes_mean`).

    The same sums, written for exported graphs: reductions over the two spatial axes that
    keep them, and static sizes where the input has them. Converters map these to global
    pooling in the runtime's own layout, where the ``(N, H*W, C)`` reshape of the training
    form (chosen for XLA) would pin the activations to channels-last and, at a dynamic batch,
    compute shapes at run time (docs/design.md §14).
    """
    x = ops.cast(inputs, statistics_dtype)
    pooled = {}
    if mean is not None:
        pooled["mean"] = ops.cast(mean, statistics_dtype)
    elif "mean" in pooling or "std" in pooling:
        pooled["mean"] = ops.mean(x, axis=(1, 2), keepdims=True)
    if "std" in pooling:
        height, width = x.shape[1], x.shape[2]
        if height is None or width is None:
            spatial = ops.cast(ops.shape(x)[1] * ops.shape(x)[2], statistics_dtype)
            divisor = ops.maximum(spatial - ddof, 1.0)
        else:
            divisor = float(max(height * width - ddof, 1))
        squares = ops.sum(ops.square(x - pooled["mean"]), axis=(1, 2), keepdims=True)
        pooled["std"] = ops.sqrt(squares / divisor + epsilon)
    if "max" in pooling:
        pooled["max"] = ops.max(x, axis=(1, 2), keepdims=True)
    return [pooled[name] for name in pooling]


def excite_maps(layer: keras.layers.Layer, context):
    """:func:`srm_keras.layers.se.excite` on an ``(N, 1, 1, C)`` context, its two dense layers
    as the 1x1 convolutions they are: a converter keeps those in its own layout, where a
    product of a rank-4 tensor and a matrix would pin the gate to channels-last."""

    def pointwise(x, kernel, bias):
        return ops.conv(x, kernel[None, None], padding="valid") + bias

    hidden = ops.relu(pointwise(context, layer.squeeze_kernel, layer.squeeze_bias))
    return pointwise(hidden, layer.excite_kernel, layer.excite_bias)


def _bn_scale_shift(bn: keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """(s, t) with BN(z) = s * z + t at inference."""
    gamma = ops.convert_to_numpy(bn.gamma) if bn.scale else 1.0
    beta = ops.convert_to_numpy(bn.beta) if bn.center else 0.0
    mean = ops.convert_to_numpy(bn.moving_mean)
    variance = ops.convert_to_numpy(bn.moving_variance)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    return scale, beta - scale * mean


def _check_built(module: keras.layers.Layer) -> None:
    if not module.built:
        raise ValueError(
            f"{type(module).__name__} {module.name!r} has no weights to fold yet; call it on an "
            "input (or build it) and train it first."
        )


@keras.saving.register_keras_serializable(package="srm_keras")
class FoldedStyleRecalibration(keras.layers.Layer):
    """SRM for inference, its batch normalisation folded into the CFC.

    For an input ``x`` of shape ``(N, H, W, C)``, with the style pooling of
    :class:`~srm_keras.layers.StyleRecalibration` (:func:`srm_keras.layers.srm.style_pool`)::

        mean, std = style_pool(x, ddof, epsilon)                          # (N, C) each
        gate[n, c] = sigmoid(kernel[0, 0, c, 0] * mean[n, c] + kernel[0, 1, c, 0] * std[n, c]
                             + bias[c])
        y[n, h, w, c] = x[n, h, w, c] * gate[n, c]

    From a trained SRM with CFC weights ``w`` (C, 2) and BN scale and shift ``s, t`` (module
    docstring), :meth:`from_module` sets ``kernel[0, j, c, 0] = s[c] * w[c, j]`` and
    ``bias = t``, so the output equals SRM's at inference (``training=False``); the weights
    are ``3 * channels`` numbers. The CFC runs as a valid depthwise convolution over the
    (mean, std) pair so that int8 converters quantise its weights per channel. The statistics,
    kernel and bias are in float32 (float64 under a float64 policy), as in SRM.

    The pooling variants of SRM (``pooling``, e.g. ``srm_mean``, ``srm_std``) fold the same
    way, with one kernel position per pooled statistic, in the order of ``pooling``:
    ``(P + 1) * channels`` numbers. The MLP integration (``srm_mlp``) has no folded form here.

    For inference only: :func:`srm_keras.export.folding.fold_model` builds it from a trained
    model; trained on its own it would be SRM without its batch normalisation. Works at any
    spatial size, including 1x1 (the variance is then 0, never NaN).

    Args:
        ddof: delta degrees of freedom of the variance, as in ``StyleRecalibration``.
        epsilon: added to the variance inside the square root, as in ``StyleRecalibration``.
        pooling: the pooled statistics, as in ``StyleRecalibration`` (default mean and std).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    ``get_config()`` returns ``ddof``, ``epsilon``, ``pooling`` and the base layer's keys, and
    ``from_config`` rebuilds an equal layer (weights travel separately, as for any layer);
    configs saved before ``pooling`` existed load with the default.

    Input shape: ``(batch, height, width, channels)``. Output shape: the same.
    """

    def __init__(self, ddof=1, epsilon=1e-5, pooling=DEFAULT_POOLING, **kwargs):
        super().__init__(**kwargs)
        if ddof not in (0, 1):
            raise ValueError(f"ddof must be 1 or 0, as in StyleRecalibration; received {ddof!r}.")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive; received epsilon={epsilon!r}.")
        self.ddof = ddof
        self.epsilon = epsilon
        self.pooling = pooling_tuple(pooling)
        self.statistics_dtype = "float64" if self.compute_dtype == "float64" else "float32"

    @classmethod
    def from_module(cls, module: StyleRecalibration) -> FoldedStyleRecalibration:
        """The folded form of a built ``StyleRecalibration`` with the CFC integration (any
        pooling), with its name and dtype policy."""
        if not (isinstance(module, StyleRecalibration) and is_foldable(module)):
            raise ValueError(
                f"FoldedStyleRecalibration folds a StyleRecalibration with the CFC integration "
                f"(any pooling); received {_describe(module)}."
            )
        _check_built(module)
        layer = cls(
            module.ddof, module.epsilon, module.pooling, name=module.name, dtype=module.dtype_policy
        )
        channels = module.cfc.shape[0]
        layer.build((None, None, None, channels))
        scale, shift = _bn_scale_shift(module.bn)
        cfc = ops.convert_to_numpy(module.cfc) * scale[:, None]  # (C, P)
        layer.set_weights([cfc.T[None, :, :, None], shift])
        return layer

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "FoldedStyleRecalibration expects a 4D channels-last input (batch, height, "
                f"width, channels) with a known number of channels; received {input_shape}."
            )
        channels = input_shape[-1]
        # Depthwise layout (1, P, C, 1): width position j weighs statistic j of self.pooling
        # (by default 0 the mean, 1 the std).
        self.kernel = self.add_weight(
            name="kernel",
            shape=(1, len(self.pooling), channels, 1),
            initializer="zeros",
            dtype=self.statistics_dtype,
            autocast=False,
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(channels,),
            initializer="zeros",
            dtype=self.statistics_dtype,
            autocast=False,
        )

    def call(self, inputs, mean=None):
        _check_takes_mean(self, mean)
        statistics = map_statistics(
            inputs, self.pooling, self.ddof, self.epsilon, self.statistics_dtype, mean
        )
        stats = ops.concatenate(statistics, axis=2)  # (N, 1, P, C)
        z = ops.depthwise_conv(stats, self.kernel, strides=1, padding="valid")  # (N, 1, 1, C)
        gate = ops.sigmoid(z + self.bias)
        return inputs * ops.cast(gate, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "ddof": self.ddof,
            "epsilon": self.epsilon,
            "pooling": list(self.pooling),
        }


@keras.saving.register_keras_serializable(package="srm_keras")
class InferenceSqueezeExcitation(keras.layers.Layer):
    """SE for inference: the same weights and arithmetic as
    :class:`~srm_keras.layers.SqueezeExcitation`, written for exported graphs.

    For an input ``x`` of shape ``(N, H, W, C)``::

        s = mean_hw(x)                                                  # (N, 1, 1, C)
        gate = sigmoid(relu(s @ squeeze_kernel + squeeze_bias) @ excite_kernel + excite_bias)
        y = x * gate

    The training form reduces an ``(N, H*W, C)`` reshape of its input, which XLA differentiates
    faster; converters cannot move that reshape out of channels-last, so an exported graph would
    transpose every block's activations twice and, at a dynamic batch, compute shapes at run
    time. Here the pooling keeps the map's rank and the two dense layers are 1x1 convolutions
    (:func:`excite_maps`), which converters turn into global pooling and convolutions in their
    own layout. SE has no normalisation to fold; :meth:`from_module` copies the weights.

    Args:
        reduction: the bottleneck ratio, as in ``SqueezeExcitation``.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Input shape: ``(batch, height, width, channels)``. Output shape: the same.
    """

    def __init__(self, reduction=16, **kwargs):
        super().__init__(**kwargs)
        self.reduction = reduction

    @classmethod
    def from_module(cls, module: SqueezeExcitation) -> InferenceSqueezeExcitation:
        """The inference form of a built ``SqueezeExcitation``, with its name, dtype policy and
        weights."""
        if not isinstance(module, SqueezeExcitation):
            raise ValueError(
                f"InferenceSqueezeExcitation is built from a SqueezeExcitation; received "
                f"{_describe(module)}."
            )
        _check_built(module)
        layer = cls(module.reduction, name=module.name, dtype=module.dtype_policy)
        layer.build((None, None, None, module.squeeze_kernel.shape[0]))
        layer.set_weights(module.get_weights())
        return layer

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "InferenceSqueezeExcitation expects a 4D channels-last input with a known "
                f"number of channels; received shape {input_shape}."
            )
        add_excitation_weights(self, input_shape[-1], self.reduction)

    def call(self, inputs, mean=None):
        squeezed = ops.mean(inputs, axis=(1, 2), keepdims=True) if mean is None else mean
        return inputs * ops.sigmoid(excite_maps(self, squeezed))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction}


#: How FoldedGatherExcitation sums over the map: "sum" (TensorFlow, LiteRT) or "depthwise" (ONNX).
GATHER_FORMS = ("sum", "depthwise")


@keras.saving.register_keras_serializable(package="srm_keras")
class FoldedGatherExcitation(keras.layers.Layer):
    """GE with a global extent (GE-θ, GE-θ⁺) for inference, its gather's BN folded in.

    For an input ``x`` of shape ``(N, H, W, C)``::

        z[n, c] = sum_hw gather_kernel[h, w, c, 0] * x[n, h, w, c] + gather_bias[c]
        gate[n, c] = sigmoid(excite(z)[n, c])
        y[n, h, w, c] = x[n, h, w, c] * gate[n, c]

    where ``excite`` is the identity, or with ``reduction`` set (GE-θ⁺) the bottleneck
    ``excite(z) = relu(relu(z) @ squeeze_kernel + squeeze_bias) @ excite_kernel + excite_bias``.

    From a trained ``GatherExcitation`` with gather kernel ``K``, bias ``b`` and BN scale and
    shift ``s, t`` (module docstring), :meth:`from_module` sets ``gather_kernel = s * K`` and
    ``gather_bias = s * b + t`` and copies the bottleneck, so the output equals GE's at
    inference (``training=False``).

    For inference only: :func:`srm_keras.export.folding.fold_model` builds it from a trained
    model. Like GE's global gather, the kernel covers the whole feature map, so the layer is
    built for one static height and width (any, 1x1 and odd sizes included) and takes only
    inputs of that size.

    The weighted sum over the map takes one of two forms, the same sum (docs/design.md §14):
    ``gather="sum"``, a product with the kernel and a sum over both spatial axes (fastest in
    TensorFlow and LiteRT, where a depthwise convolution with a kernel the size of a 56x56 map
    measured 1.45x plain ResNet-50's time against 1.09x), or ``gather="depthwise"``, the valid
    depthwise convolution it is (for ONNX: tf2onnx cannot move the product's layout transpose,
    which also feeds the gate's product, out of the block; the convolution needs none).

    Args:
        reduction: None, or the GE-θ⁺ bottleneck ratio (hidden width
            ``max(channels // reduction, 1)``).
        gather: ``"sum"`` or ``"depthwise"``.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    ``get_config()`` returns ``reduction``, ``gather`` and the base layer's keys, and
    ``from_config`` rebuilds an equal layer (configs saved before ``gather`` load as "sum").

    Input shape: ``(batch, height, width, channels)``, static height and width. Output shape:
    the same.
    """

    def __init__(self, reduction=None, gather="sum", **kwargs):
        super().__init__(**kwargs)
        if reduction is not None and (not isinstance(reduction, int) or reduction < 1):
            raise ValueError(
                f"reduction must be None or a positive integer; received {reduction!r}."
            )
        if gather not in GATHER_FORMS:
            raise ValueError(f"gather must be one of {GATHER_FORMS}; received {gather!r}.")
        self.reduction = reduction
        self.gather = gather

    @classmethod
    def from_module(cls, module: GatherExcitation, gather: str = "sum") -> FoldedGatherExcitation:
        """The folded form of a built parametric global ``GatherExcitation`` (``"ge"``,
        ``"ge_plus"``), with its name and dtype policy, its sum in the ``gather`` form."""
        if not (isinstance(module, GatherExcitation) and is_foldable(module)):
            raise ValueError(
                "FoldedGatherExcitation folds a GatherExcitation with the parametric global "
                "gather (recalibration 'ge' or 'ge_plus'); received "
                f"{_describe(module)}."
            )
        _check_built(module)
        layer = cls(module.reduction, gather, name=module.name, dtype=module.dtype_policy)
        height, width, channels, _ = module.gather_kernel.shape
        layer.build((None, height, width, channels))
        scale, shift = _bn_scale_shift(module.gather_bns[0])
        weights = [ops.convert_to_numpy(module.gather_kernel) * scale[None, None, :, None]]
        weights.append(scale * ops.convert_to_numpy(module.gather_bias) + shift)
        if module.reduction is not None:
            weights += [
                ops.convert_to_numpy(w)
                for w in (
                    module.squeeze_kernel,
                    module.squeeze_bias,
                    module.excite_kernel,
                    module.excite_bias,
                )
            ]
        layer.set_weights(weights)
        return layer

    def build(self, input_shape):
        if len(input_shape) != 4 or None in tuple(input_shape[1:]):
            raise ValueError(
                "FoldedGatherExcitation sizes its gather kernel to the feature map, so it needs "
                "a 4D channels-last input with static height, width and channels; received "
                f"{input_shape}."
            )
        _, height, width, channels = input_shape
        # Depthwise layout (H, W, C, 1), as GatherExcitation stores it.
        self.gather_kernel = self.add_weight(
            name="gather_kernel", shape=(height, width, channels, 1), initializer="zeros"
        )
        self.gather_bias = self.add_weight(
            name="gather_bias", shape=(channels,), initializer="zeros"
        )
        if self.reduction is not None:
            add_excitation_weights(self, channels, self.reduction)

    def call(self, inputs):
        kernel = ops.cast(self.gather_kernel, inputs.dtype)  # (H, W, C, 1)
        if self.gather == "depthwise":
            context = ops.depthwise_conv(inputs, kernel, padding="valid")
        else:
            # (1, H, W, C): the input's rank, so that converters can move it to their layout.
            kernel = ops.transpose(kernel, (3, 0, 1, 2))
            context = ops.sum(inputs * kernel, axis=(1, 2), keepdims=True)
        context = context + self.gather_bias  # (N, 1, 1, C)
        if self.reduction is not None:
            context = excite_maps(self, ops.relu(context))
        gate = ops.sigmoid(context)  # (N, 1, 1, C)
        return inputs * ops.cast(gate, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction, "gather": self.gather}


@keras.saving.register_keras_serializable(package="srm_keras")
class FoldedMultiScaleSpatialRecalibration(keras.layers.Layer):
    """MS-SAR for inference: each scale's batch normalisation folded into its own copy of the
    shared reduction, and every step written for exported graphs.

    For an input ``x`` of shape ``(N, H, W, C)`` and each scale ``s`` (the notation of
    :class:`~srm_keras.layers.MultiScaleSpatialRecalibration`)::

        z_s = relu(p_s @ R_s + r_s)      # R_s = W_r * g_s, r_s = t_s with BN_s(v) = g_s v + t_s;
                                         # R_s = W_r, r_s = b_r without batch_norm
        l_s = (K_s * z_s) @ W_e          # as in the module
        gate, y                          # fused and applied as in the module

    so the output equals the module's at inference (``training=False``). The global scale pools
    with a mean over both spatial axes that keeps them, and the 1x1 maps of every scale are
    convolutions: converters keep them in their own layout, where the module's
    ``(N, H*W, C)`` reshape (chosen for XLA) would not be (docs/design.md §14).

    For inference only: :func:`srm_keras.export.folding.fold_model` builds it from a trained
    model. Works at any spatial size, like the module.

    Args:
        scales, kernel_size, reduction, depthwise, pooling, fusion: as in the module.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Input shape: ``(batch, height, width, channels)``. Output shape: the same.
    """

    def __init__(
        self,
        scales,
        kernel_size=3,
        reduction=16,
        depthwise=True,
        pooling="average",
        fusion="sum",
        **kwargs,
    ):
        super().__init__(**kwargs)
        # The module validates every option; a folded layer is made from one, or from a config.
        reference = MultiScaleSpatialRecalibration(
            scales, kernel_size, reduction, depthwise, pooling=pooling, fusion=fusion
        )
        self.scales = reference.scales
        self.kernel_size = kernel_size
        self.reduction = reduction
        self.depthwise = bool(depthwise)
        self.pooling = pooling
        self.fusion = fusion
        self.statistics_dtype = "float64" if self.compute_dtype == "float64" else "float32"

    @classmethod
    def from_module(
        cls, module: MultiScaleSpatialRecalibration
    ) -> FoldedMultiScaleSpatialRecalibration:
        """The folded form of a built ``MultiScaleSpatialRecalibration``, with its name, dtype
        policy and options."""
        if not isinstance(module, MultiScaleSpatialRecalibration):
            raise ValueError(
                "FoldedMultiScaleSpatialRecalibration folds a MultiScaleSpatialRecalibration; "
                f"received {_describe(module)}."
            )
        _check_built(module)
        layer = cls(
            module.scales,
            module.kernel_size,
            module.reduction,
            module.depthwise,
            module.pooling,
            module.fusion,
            name=module.name,
            dtype=module.dtype_policy,
        )
        channels = module.squeeze_kernel.shape[0]
        layer.build((None, None, None, channels))
        squeeze = ops.convert_to_numpy(module.squeeze_kernel)
        weights = []
        for index, scale in enumerate(module.scales):
            if module.batch_norm:
                gain, shift = _bn_scale_shift(module.bns[index])
                weights += [squeeze * gain[None, :], shift]
            else:
                weights += [squeeze, ops.convert_to_numpy(module.squeeze_bias)]
            if scale != GLOBAL:
                weights.append(ops.convert_to_numpy(module.spatial_kernels[scale]))
        weights += [ops.convert_to_numpy(w) for w in (module.excite_kernel, module.excite_bias)]
        layer.set_weights(weights)
        return layer

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "FoldedMultiScaleSpatialRecalibration expects a 4D channels-last input with a "
                f"known number of channels; received shape {input_shape}."
            )
        channels = input_shape[-1]
        hidden = max(channels // self.reduction, 1)

        def weight(name, shape):
            return self.add_weight(
                name=name,
                shape=shape,
                initializer="zeros",
                dtype=self.statistics_dtype,
                autocast=False,
            )

        self.squeeze_kernels, self.squeeze_biases, self.spatial_kernels = [], [], {}
        k = self.kernel_size
        for scale in self.scales:
            label = GLOBAL if scale == GLOBAL else f"scale{scale}"
            self.squeeze_kernels.append(weight(f"{label}_squeeze_kernel", (channels, hidden)))
            self.squeeze_biases.append(weight(f"{label}_squeeze_bias", (hidden,)))
            if scale != GLOBAL:
                self.spatial_kernels[scale] = weight(
                    f"{label}_kernel", (k, k, hidden, 1 if self.depthwise else hidden)
                )
        self.excite_kernel = weight("excite_kernel", (hidden, channels))
        self.excite_bias = weight("excite_bias", (channels,))

    @staticmethod
    def _pointwise(x, kernel, bias=None):
        x = ops.conv(x, kernel[None, None], padding="valid")
        return x if bias is None else x + bias

    def call(self, inputs, mean=None):
        _check_takes_mean(self, mean)
        x = ops.cast(inputs, self.statistics_dtype)
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        logits = []
        for index, scale in enumerate(self.scales):
            if scale == GLOBAL and mean is not None:
                pooled = ops.cast(mean, self.statistics_dtype)
            elif scale == GLOBAL:
                reduce = ops.max if self.pooling == "max" else ops.mean
                pooled = reduce(x, axis=(1, 2), keepdims=True)  # (N, 1, 1, C): broadcasts
            elif scale == 1:
                pooled = x
            else:
                pool = ops.max_pool if self.pooling == "max" else ops.average_pool
                pooled = pool(x, scale, scale, padding="same", data_format="channels_last")
            z = ops.relu(
                self._pointwise(pooled, self.squeeze_kernels[index], self.squeeze_biases[index])
            )
            if scale != GLOBAL:
                conv = ops.depthwise_conv if self.depthwise else ops.conv
                z = conv(
                    z, self.spatial_kernels[scale], padding="same", data_format="channels_last"
                )
            logits.append(self._pointwise(z, self.excite_kernel))
        gate = fuse_scales(logits, self.scales, self.fusion, self.excite_bias, height, width)
        return inputs * ops.cast(gate, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "scales": list(self.scales),
            "kernel_size": self.kernel_size,
            "reduction": self.reduction,
            "depthwise": self.depthwise,
            "pooling": self.pooling,
            "fusion": self.fusion,
        }


def _describe(layer) -> str:
    if isinstance(layer, StyleRecalibration):
        return (
            f"StyleRecalibration(pooling={list(layer.pooling)!r}, "
            f"integration={layer.integration!r})"
        )
    if isinstance(layer, GatherExcitation):
        return f"GatherExcitation(extent={layer.extent!r}, parametric={layer.parametric})"
    return type(layer).__name__


def is_foldable(layer: keras.layers.Layer) -> bool:
    """Whether :func:`fold_module` has an inference form for ``layer``: SRM with the CFC
    integration (any pooling: ``srm``, ``srm_mean``, ``srm_std``), GE with the parametric
    global gather (with or without the GE-θ⁺ bottleneck), SE and MS-SAR. Not SRM's MLP integration
    (``srm_mlp``): its BN follows a dense layer, and the int8 reason for folding (the CFC
    quantised per channel as a depthwise convolution) does not apply; models keep it as is."""
    if isinstance(layer, StyleRecalibration):
        return layer.integration == "cfc"
    if isinstance(layer, SqueezeExcitation | MultiScaleSpatialRecalibration):
        return True
    return isinstance(layer, GatherExcitation) and layer.parametric and layer.extent == GLOBAL


def takes_mean(layer: keras.layers.Layer) -> bool:
    """Whether ``layer`` is an inference form that pools its input's channel means and takes
    them precomputed, as ``layer(x, mean=m)`` with ``m`` of shape ``(N, 1, 1, C)``: SE, SRM
    with a mean or a std among its statistics (the std centres on the mean), MS-SAR with a
    global scale pooled by average. :func:`srm_keras.export.folding.fold_model` passes it
    where the mean costs less before the convolution that makes the input (docs/design.md
    §14)."""
    if isinstance(layer, InferenceSqueezeExcitation):
        return True
    if isinstance(layer, FoldedStyleRecalibration):
        return "mean" in layer.pooling or "std" in layer.pooling
    if isinstance(layer, FoldedMultiScaleSpatialRecalibration):
        return GLOBAL in layer.scales and layer.pooling != "max"
    return False


def _check_takes_mean(layer: keras.layers.Layer, mean) -> None:
    if mean is not None and not takes_mean(layer):
        raise ValueError(
            f"{layer.name}: this form pools no channel mean, so it takes none "
            "(srm_keras.layers.takes_mean); call it without mean=."
        )


def fold_module(layer: keras.layers.Layer, gather: str = "sum") -> keras.layers.Layer:
    """The folded inference form of a built, foldable ``layer`` (:func:`is_foldable`), with its
    name, dtype policy and folded weights; ``gather`` is the form of a global GE's sum (see
    :class:`FoldedGatherExcitation`). Raises ValueError for any other layer."""
    if isinstance(layer, StyleRecalibration):
        return FoldedStyleRecalibration.from_module(layer)
    if isinstance(layer, SqueezeExcitation):
        return InferenceSqueezeExcitation.from_module(layer)
    if isinstance(layer, MultiScaleSpatialRecalibration):
        return FoldedMultiScaleSpatialRecalibration.from_module(layer)
    return FoldedGatherExcitation.from_module(layer, gather)
