"""Fold the recalibration modules' batch normalisation into the affine map before it.

At inference a module's BN is a per-channel affine map ``s * (z - moving_mean) + beta`` with
``s = gamma / sqrt(moving_variance + epsilon)``; it folds into the map that produces ``z``:

* SRM: ``z = w_mean * mean + w_std * std`` (the CFC) becomes
  ``z = s * w_mean * mean + s * w_std * std + (beta - s * moving_mean)``: 2C weights + C bias.
* GE (global extent): ``z = sum(kernel * x) + bias`` becomes
  ``z = sum(s * kernel * x) + s * (bias - moving_mean) + beta``.

Beyond saving a few operations, folding is what makes the int8 TFLite variant of SRM models
work. Quantised per tensor, the CFC output of a channel whose statistics are small loses most
of its precision, and the BN scale that follows (large exactly for such channels) multiplies
that error; measured on an SRM-ResNet-20 trained on digits, top-1 agreement with Keras was
about 93%. The folded CFC runs as a depthwise convolution, whose int8 kernels are quantised per
channel, and the same model then agrees on 100% of the held-out images.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
from keras import ops

from srm_keras.layers import GatherExcitation, StyleRecalibration

logger = logging.getLogger(__name__)


@keras.saving.register_keras_serializable(package="srm_keras")
class FoldedStyleRecalibration(keras.layers.Layer):
    """SRM for inference, its batch normalisation folded into the CFC.

    ``gate = sigmoid(kernel[0] * mean + kernel[1] * std + bias)`` per channel, with the
    style pooling of :class:`~srm_keras.layers.StyleRecalibration`. The CFC is computed as a
    valid depthwise convolution over the (mean, std) pair, so that int8 converters quantise
    its weights per channel. Built by :func:`fold_model`; not meant for training.

    Args:
        ddof: as in ``StyleRecalibration``.
        epsilon: as in ``StyleRecalibration``.
    """

    def __init__(self, ddof=1, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.ddof = ddof
        self.epsilon = epsilon
        self.statistics_dtype = "float32"  # export works in float32

    def build(self, input_shape):
        channels = input_shape[-1]
        # Depthwise layout (1, 2, C, 1): width position 0 weighs the mean, 1 the std.
        self.kernel = self.add_weight(name="kernel", shape=(1, 2, channels, 1), initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(channels,), initializer="zeros")

    def call(self, inputs):
        # The pooling only reads ddof and epsilon, which this layer shares with SRM.
        mean, std = StyleRecalibration.style_pool(self, inputs)  # (N, C) each
        stats = ops.stack([mean, std], axis=1)[:, None]  # (N, 1, 2, C)
        z = ops.depthwise_conv(stats, self.kernel, strides=1, padding="valid")[:, 0, 0, :]
        gate = ops.sigmoid(z + self.bias)
        return inputs * ops.cast(gate[:, None, None, :], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ddof": self.ddof, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="srm_keras")
class FoldedGatherExcitation(keras.layers.Layer):
    """GE with a global extent for inference, its batch normalisation folded into the gather.

    ``gate = sigmoid(excite(sum(kernel * x) + bias))``, where ``excite`` is the GE-θ⁺
    bottleneck when ``reduction`` is set and the identity otherwise. Built by
    :func:`fold_model`; not meant for training.

    Args:
        reduction: None, or the GE-θ⁺ bottleneck ratio.
    """

    def __init__(self, reduction=None, **kwargs):
        super().__init__(**kwargs)
        self.reduction = reduction

    def build(self, input_shape):
        _, height, width, channels = input_shape
        self.gather_kernel = self.add_weight(
            name="gather_kernel", shape=(height, width, channels, 1), initializer="zeros"
        )
        self.gather_bias = self.add_weight(
            name="gather_bias", shape=(channels,), initializer="zeros"
        )
        if self.reduction is not None:
            hidden = max(channels // self.reduction, 1)
            self.squeeze_kernel = self.add_weight(name="squeeze_kernel", shape=(channels, hidden))
            self.squeeze_bias = self.add_weight(name="squeeze_bias", shape=(hidden,))
            self.excite_kernel = self.add_weight(name="excite_kernel", shape=(hidden, channels))
            self.excite_bias = self.add_weight(name="excite_bias", shape=(channels,))

    def call(self, inputs):
        kernel = ops.cast(self.gather_kernel[..., 0], inputs.dtype)  # (H, W, C)
        context = ops.sum(inputs * kernel, axis=(1, 2)) + self.gather_bias  # (N, C)
        if self.reduction is not None:
            hidden = ops.relu(
                ops.matmul(ops.relu(context), self.squeeze_kernel) + self.squeeze_bias
            )
            context = ops.matmul(hidden, self.excite_kernel) + self.excite_bias
        gate = ops.sigmoid(context)
        return inputs * ops.cast(gate[:, None, None, :], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction}


def _bn_scale_shift(bn: keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """(s, t) with BN(z) = s * z + t at inference."""
    gamma = np.asarray(bn.gamma) if bn.scale else 1.0
    beta = np.asarray(bn.beta) if bn.center else 0.0
    mean, variance = np.asarray(bn.moving_mean), np.asarray(bn.moving_variance)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    return scale, beta - scale * mean


def _foldable(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, StyleRecalibration):
        return True
    return isinstance(layer, GatherExcitation) and layer.parametric and layer.extent == "global"


def _folded_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    if isinstance(layer, StyleRecalibration):
        return FoldedStyleRecalibration(layer.ddof, layer.epsilon, name=layer.name)
    return FoldedGatherExcitation(layer.reduction, name=layer.name)


def _folded_weights(layer: keras.layers.Layer) -> list[np.ndarray]:
    if isinstance(layer, StyleRecalibration):
        scale, shift = _bn_scale_shift(layer.bn)
        cfc = np.asarray(layer.cfc) * scale[:, None]  # (C, 2)
        return [cfc.T[None, :, :, None], shift]
    scale, shift = _bn_scale_shift(layer.gather_bns[0])
    weights = [np.asarray(layer.gather_kernel) * scale[None, None, :, None]]
    weights.append(scale * np.asarray(layer.gather_bias) + shift)
    if layer.reduction is not None:
        weights += [
            np.asarray(w)
            for w in (
                layer.squeeze_kernel,
                layer.squeeze_bias,
                layer.excite_kernel,
                layer.excite_bias,
            )
        ]
    return weights


def fold_model(model: keras.Model) -> tuple[keras.Model, list[str]]:
    """A copy of ``model`` with every foldable module's BN folded; and the folded layer names.

    Foldable: SRM, and GE with a global parametric gather (with or without the GE-θ⁺
    bottleneck). Other layers are copied unchanged. ``model`` must compute in float32.
    """
    folded = [layer.name for layer in model.layers if _foldable(layer)]
    if not folded:
        return model, []

    def clone(layer):
        return (
            _folded_layer(layer)
            if _foldable(layer)
            else layer.__class__.from_config(layer.get_config())
        )

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        target = copy.get_layer(layer.name)
        target.set_weights(_folded_weights(layer) if _foldable(layer) else layer.get_weights())
    logger.info("folded the batch normalisation of %d modules", len(folded))
    return copy, folded


def fold_serving_model(
    model: keras.Model,
    image_size: tuple[int, int],
    images: np.ndarray,
    reference: dict,
) -> tuple[keras.Model | None, dict]:
    """The serving model of the folded ``model`` when it matches ``reference``, and a summary.

    The folded model is kept only when its probabilities on ``images`` are within the float32
    bound of ``reference`` (the unfolded Keras outputs); otherwise None is returned and the
    summary says why.
    """
    from srm_keras.export.parity import FLOAT32_MAX_ABS_DIFF, compare, keras_runner
    from srm_keras.export.prepare import as_float32, serving_model
    from srm_keras.export.runners import run_batched

    folded, names = fold_model(as_float32(model))
    if not names:
        return None, {"applied": False, "modules": 0, "reason": "no foldable modules"}
    serving = serving_model(folded, image_size)
    diff = compare(reference, run_batched(keras_runner(serving), images))["max_abs_diff"]
    summary = {"modules": len(names), "max_abs_diff": diff}
    if diff <= FLOAT32_MAX_ABS_DIFF:
        return serving, {"applied": True, **summary}
    logger.warning("folded model differs by %.3g; exporting it unfolded", diff)
    return None, {"applied": False, **summary, "reason": f"max abs diff {diff:.3g} > bound"}
