"""Parameters and multiply-accumulates of a zoo model from its spec table, without building it.

:func:`model_counts` walks the same tables as the builders (``srm_keras.models.spec``) and counts
what :func:`~srm_keras.models.profile.count_params` and
:func:`~srm_keras.models.profile.count_macs` would count on the built model: trainable weights,
and the MACs of convolutions, dense layers and recalibration modules. A module is counted by
building that one layer alone, once per input shape, so any registered module (and its options)
is counted by its own ``macs()`` and weights. ``srm-keras models`` answers from here at once,
where building ResNet-152 at 224x224 takes seconds per row; tests/models/test_counts.py pins it to
the built models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from srm_keras.models.names import split_name
from srm_keras.models.spec import BOTTLENECK_WIDTH, DENSENETS, RESNETS

Shape = tuple[int, int, int]  # (height, width, channels)


@dataclass
class _Tally:
    """Running totals over a model walked layer by layer, in the builders' order."""

    recalibration: object = None  # a layer constructor, or None
    recalibration_kwargs: dict = field(default_factory=dict)
    params: int = 0
    macs: int = 0
    _modules: dict = field(default_factory=dict)  # shape -> (params, macs)

    def conv(self, shape: Shape, filters: int, kernel: int, strides: int = 1) -> Shape:
        """A bias-free convolution padded by ``kernel // 2`` on each side, as the builders pad."""
        height, width, channels = shape
        height = (height + 2 * (kernel // 2) - kernel) // strides + 1
        width = (width + 2 * (kernel // 2) - kernel) // strides + 1
        self.params += kernel * kernel * channels * filters
        self.macs += height * width * kernel * kernel * channels * filters
        return height, width, filters

    def batch_norm(self, shape: Shape) -> Shape:
        self.params += 2 * shape[-1]  # gamma and beta; the moving statistics are not trained
        return shape

    def conv_bn(self, shape: Shape, filters: int, kernel: int, strides: int = 1) -> Shape:
        return self.batch_norm(self.conv(shape, filters, kernel, strides))

    def module(self, shape: Shape) -> Shape:
        if self.recalibration is None:
            return shape
        if shape not in self._modules:
            layer = self.recalibration(**self.recalibration_kwargs)
            layer.build((None, *shape))
            params = sum(math.prod(weight.shape) for weight in layer.trainable_weights)
            macs = layer.macs((None, *shape)) if hasattr(layer, "macs") else 0
            self._modules[shape] = (params, int(macs))
        params, macs = self._modules[shape]
        self.params += params
        self.macs += macs
        return shape

    def head(self, shape: Shape, classes: int | None) -> None:
        if classes is not None:  # global average pooling, then the logits
            self.params += shape[-1] * classes + classes
            self.macs += shape[-1] * classes


def _max_pool(shape: Shape) -> Shape:
    """3x3 stride-2 max-pooling after a padding of 1 (the ImageNet stems)."""
    height, width, channels = shape
    return (height - 1) // 2 + 1, (width - 1) // 2 + 1, channels


def _resnet(tally: _Tally, spec, shape: Shape, stride_on: str, shortcut: str | None) -> Shape:
    shortcut = shortcut or ("A" if spec.family == "cifar" else "B")
    if spec.family == "cifar":
        shape = tally.conv_bn(shape, spec.widths[0], 3)
    else:
        shape = _max_pool(tally.conv_bn(shape, spec.widths[0], 7, 2))
    for stage, (count, width) in enumerate(zip(spec.blocks, spec.widths), start=1):
        for index in range(count):
            strides = 2 if stage > 1 and index == 0 else 1
            if spec.block == "basic":
                y = tally.conv_bn(shape, width, 3, strides)
                y = tally.conv_bn(y, width, 3)
            else:
                first, second = (1, strides) if stride_on == "3x3" else (strides, 1)
                y = tally.conv_bn(shape, width, 1, first)
                y = tally.conv_bn(y, width, 3, second)
                y = tally.conv_bn(y, 4 * width, 1)
            tally.module(y)
            if shortcut == "B" and (strides != 1 or shape[-1] != y[-1]):
                tally.conv_bn(shape, y[-1], 1, strides)
            shape = y  # option A's padded identity has neither weights nor MACs
    return shape


def _densenet(tally: _Tally, spec, shape: Shape) -> Shape:
    k = spec.growth_rate
    if spec.family == "cifar":
        shape = tally.conv(shape, spec.stem_channels, 3)
    else:
        shape = _max_pool(tally.conv_bn(shape, spec.stem_channels, 7, 2))
    for index, count in enumerate(spec.blocks, start=1):
        for _ in range(count):
            y = tally.batch_norm(shape)
            if spec.bottleneck:
                y = tally.batch_norm(tally.conv(y, BOTTLENECK_WIDTH * k, 1))
            y = tally.module(tally.conv(y, k, 3))
            shape = (*shape[:2], shape[-1] + k)  # the concatenation
        if index < len(spec.blocks):
            height, width, _ = tally.conv(
                tally.batch_norm(shape), int(spec.compression * shape[-1]), 1
            )
            shape = (height // 2, width // 2, int(spec.compression * shape[-1]))
    return tally.batch_norm(shape)


def model_counts(
    name: str,
    *,
    input_shape: Shape | None = None,
    classes: int | None = None,
    include_top: bool = True,
    stride_on: str = "3x3",
    shortcut: str | None = None,
    recalibration_kwargs: dict | None = None,
) -> tuple[int, int]:
    """``(trainable parameters, MACs of one image)`` of ``create_model(name, **options)``.

    Equal to ``count_params`` and ``count_macs`` of the built model, with the same options
    (``stride_on`` and ``shortcut`` are ResNet options); nothing but the recalibration layers
    is built, and those alone, once per shape.

    Args:
        name: a model name, e.g. ``"srm_resnet50"`` or ``"mssar_densenet_bc100"``.
        input_shape: ``(height, width, channels)``; default the model's own (224 or 32).
        classes: classes of the head; default the family's (1000 or 10).
        include_top: False counts the network without its classifier.
    """
    from srm_keras import layers as recalibration_layers  # Keras loads here, for the modules

    family, key, module = split_name(name)
    spec = (RESNETS if family == "resnet" else DENSENETS)[key]
    tally = _Tally(recalibration_layers.get(module), dict(recalibration_kwargs or {}))
    shape = tuple(input_shape or spec.default_input_shape)
    if family == "resnet":
        shape = _resnet(tally, spec, shape, stride_on, shortcut)
    else:
        shape = _densenet(tally, spec, shape)
    tally.head(shape, (classes or spec.default_classes) if include_top else None)
    return tally.params, tally.macs


__all__ = ["model_counts"]
