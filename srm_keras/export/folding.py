"""Fold the recalibration modules' batch normalisation into the affine map before it.

At inference a module's BN is a per-channel affine map ``s * (z - moving_mean) + beta`` with
``s = gamma / sqrt(moving_variance + epsilon)``; it folds into the map that produces ``z``:

* SRM: ``z = w_mean * mean + w_std * std`` (the CFC) becomes
  ``z = s * w_mean * mean + s * w_std * std + (beta - s * moving_mean)``: 2C weights + C bias.
  The pooling variants (``srm_mean``, ``srm_std``, any ``pooling``) fold alike, P C weights +
  C bias; the MLP integration (``srm_mlp``) is not folded and is copied with its BN.
* GE (global extent): ``z = sum(kernel * x) + bias`` becomes
  ``z = sum(s * kernel * x) + s * (bias - moving_mean) + beta``.

The folded layers and the arithmetic that fills them live in :mod:`srm_keras.layers.folded`
(``FoldedStyleRecalibration``, ``FoldedGatherExcitation``, ``fold_module``); this module walks
a model and swaps them in.

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

from srm_keras.layers import (  # the classes are re-exported: they were defined here before
    FoldedGatherExcitation,
    FoldedStyleRecalibration,
    fold_module,
    is_foldable,
    takes_mean,
)

__all__ = [
    "FoldedGatherExcitation",
    "FoldedStyleRecalibration",
    "fold_model",
    "fold_serving_model",
    "onnx_serving_model",
]

logger = logging.getLogger(__name__)


def fold_model(
    model: keras.Model, gather: str = "sum", early_mean: bool = True
) -> tuple[keras.Model, list[str]]:
    """A copy of ``model`` with every module in its inference form; and their layer names.

    Inference forms (docs/design.md §14): SRM with the CFC integration (any pooling), GE with a
    global parametric gather (with or without the GE-θ⁺ bottleneck) and MS-SAR with their BN
    folded, and SE; see :func:`srm_keras.layers.is_foldable`. ``gather`` is the form of GE's
    sum: "sum" for TensorFlow and LiteRT, "depthwise" for ONNX. Other layers, SRM's MLP
    integration among them, are copied unchanged. ``model`` must compute in float32.

    With ``early_mean`` (the default), a form that pools its input's channel means
    (:func:`srm_keras.layers.takes_mean`) and whose input is made by a 1x1 convolution with
    stride 1 and no activation, optionally followed by a batch normalisation (the last
    convolution of a bottleneck), takes them as that convolution and BN applied to the mean of
    the convolution's input: the same means (a mean over positions commutes with a map applied
    at each position alike), read from a map with a quarter of the channels in a bottleneck.
    Only where the convolution widens the map (its input has fewer channels, so fewer bytes to
    read), and only in functional models (a ``keras.Sequential`` model is folded as is). The
    copy is for inference: the BN applied to the means always runs on its moving statistics.
    """
    folded = [layer.name for layer in model.layers if is_foldable(layer)]
    if not folded:
        return model, []

    def clone(layer):
        # A folded layer arrives built, with its weights.
        if is_foldable(layer):
            return fold_module(layer, gather)
        return layer.__class__.from_config(layer.get_config())

    projections = _Projections()

    def call(layer, *args, **kwargs):
        if early_mean and takes_mean(layer) and len(args) == 1 and _no_tensors(kwargs):
            made = projections.source(args[0])
            if made is not None:
                return layer(args[0], mean=made(layer.name), **kwargs)
        outputs = layer(*args, **kwargs)
        projections.record(layer, args, kwargs, outputs)
        return outputs

    # clone_model takes a call_function for functional models only.
    early = early_mean and not isinstance(model, keras.Sequential)
    copy = keras.models.clone_model(
        model, clone_function=clone, call_function=call if early else None
    )
    for layer in model.layers:
        # Input layers hold no weights, and clone_model renames an unnamed one.
        if layer.weights and not is_foldable(layer):
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    logger.info(
        "folded the batch normalisation of %d modules; %d take their means before a convolution",
        len(folded),
        projections.used,
    )
    return copy, folded


class _Projections:
    """The tensors of a model being cloned that a 1x1 convolution (and a BN after it) made
    from another: what the mean of each can be computed from."""

    def __init__(self) -> None:
        self._made: dict[int, tuple] = {}  # id(output) -> (output, conv, bn or None, input)
        self.used = 0

    def record(self, layer, args, kwargs, outputs) -> None:
        if len(args) != 1 or not _no_tensors(kwargs) or not isinstance(outputs, keras.KerasTensor):
            return
        (inputs,) = args
        if _is_pointwise_linear(layer):
            # Only where the map the means come from is narrower: fewer bytes to read.
            if len(inputs.shape) == 4 and (inputs.shape[-1] or 0) < (outputs.shape[-1] or 0):
                self._made[id(outputs)] = (outputs, layer, None, inputs)
        elif _is_channel_affine(layer):
            entry = self._made.get(id(inputs))
            if entry is not None and entry[0] is inputs and entry[2] is None:
                self._made[id(outputs)] = (outputs, entry[1], layer, entry[3])

    def source(self, tensor):
        """None, or a function of a name that makes ``tensor``'s channel means, (N, 1, 1, C),
        from the input of the convolution that made it."""
        entry = self._made.get(id(tensor))
        if entry is None or entry[0] is not tensor:
            return None
        _, conv, bn, inputs = entry

        def mean(name):
            self.used += 1
            pooled = keras.layers.GlobalAveragePooling2D(
                data_format="channels_last",
                keepdims=True,
                dtype=conv.dtype_policy,
                name=f"{name}_early_mean",
            )
            means = conv(pooled(inputs))
            # Inference only: BN's batch statistics of N vectors are not the map's.
            return means if bn is None else bn(means, training=False)

        return mean


def _no_tensors(kwargs) -> bool:
    """Whether a layer call's keyword arguments are all None (Keras records ``mask=None``)."""
    return all(value is None for value in kwargs.values())


def _is_pointwise_linear(layer) -> bool:
    """A Keras Conv2D that maps each position alike: 1x1, stride 1, no dilation or groups, no
    activation, channels-last."""
    return (
        type(layer).call is keras.layers.Conv2D.call
        and isinstance(layer, keras.layers.Conv2D)
        and tuple(layer.kernel_size) == (1, 1)
        and tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.groups == 1
        and layer.data_format == "channels_last"
        and layer.activation in (None, keras.activations.linear)
    )


def _is_channel_affine(layer) -> bool:
    """A Keras BatchNormalization over the channels of a channels-last map: at inference, a
    per-channel affine map."""
    return type(layer).call is keras.layers.BatchNormalization.call and layer.axis in (-1, 3)


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


def onnx_serving_model(model: keras.Model, image_size: tuple[int, int]) -> keras.Model | None:
    """The folded serving model with each global GE's sum as a depthwise convolution, the form
    the ONNX file needs (see ``FoldedGatherExcitation``); None when ``model`` has no global GE,
    and the one serving model serves every format."""
    from srm_keras.export.prepare import as_float32, serving_model
    from srm_keras.layers import GatherExcitation

    if not any(
        isinstance(layer, GatherExcitation) and is_foldable(layer) for layer in model.layers
    ):
        return None
    folded, _ = fold_model(as_float32(model), gather="depthwise")
    return serving_model(folded, image_size)
