"""How to read the gate of each recalibration module: one registry, keyed by layer class.

A recalibration module computes a gate ``g`` from its input ``x`` and returns ``x * g``
(docs/design.md §1-3, §10). The layers do not expose ``g`` as an operation of their own, so a
*gate reader* computes it again from the layer's public weights and sublayers with
``keras.ops``, at inference (``training=False``):

==========================  ===================================================  ==========
class                       gate                                                 shape
==========================  ===================================================  ==========
StyleRecalibration (SRM)    ``sigmoid(bn(integrate(pool_statistics(x))))``: the   (N, C)
                            CFC (or MLP) of the pooled mean and std (or the
                            statistics of ``pooling``), through the layer's own
                            public steps
SqueezeExcitation (SE)      ``sigmoid(excite(mean_hw x))``                        (N, C)
GatherExcitation (GE)       global: ``sigmoid(bn(sum_hw K·x + b))`` (GE-θ⁺: the   (N, C)
                            excite bottleneck before the sigmoid; GE-θ⁻: mean);
                            extent e: the gather convolutions or e×e average
                            pooling, resized to H×W (nearest), sigmoid            (N, H, W, C)
MultiScaleSpatialRecal.     ``sigmoid(b + sum_s up_s(l_s))`` (fusion "sum") or    (N, H, W, C)
(MS-SAR)                    ``mean_s sigmoid(b + up_s(l_s))`` ("average")
==========================  ===================================================  ==========

A reader is a second copy of its module's arithmetic, so it could drift from the layer. Two
guards: a subclass that overrides ``call`` is refused (it may compute another gate), and
:func:`srm_keras.analysis.gate_statistics` checks on every batch that ``x * gate`` reproduces
the module's own output. A layer class that defines a method ``gate(inputs, training=None)``
is read through that method instead, with no reader needed: that is where this code belongs
once the layers offer it.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from srm_keras.layers.ge import GLOBAL as GE_GLOBAL
from srm_keras.layers.ge import GatherExcitation
from srm_keras.layers.mssar import GLOBAL as MSSAR_GLOBAL
from srm_keras.layers.mssar import MultiScaleSpatialRecalibration, upsample_nearest
from srm_keras.layers.se import SqueezeExcitation, excite
from srm_keras.layers.srm import StyleRecalibration

#: ``reader(layer, inputs) -> gate``: inputs ``(N, H, W, C)``, gate ``(N, C)`` (one value per
#: channel) or ``(N, H, W, C)`` (one per position), as the layer computes it at inference.
GateReader = Callable[[keras.layers.Layer, object], object]


def _flat(x):
    """(N, H, W, C) -> (N, H*W, C), the layers' own layout for their reductions."""
    return ops.reshape(x, (ops.shape(x)[0], -1, x.shape[-1]))


def _srm_gate(layer: StyleRecalibration, x):
    # The layer's own public steps, which cover its ablation variants (pooling=, integration=):
    # the pooled statistics, each (N, C) in statistics_dtype, then the CFC or the MLP.
    z = layer.integrate(layer.pool_statistics(x, training=False))
    return ops.sigmoid(layer.bn(z, training=False))


def _se_gate(layer: SqueezeExcitation, x):
    return ops.sigmoid(excite(layer, ops.mean(_flat(x), axis=1)))


def _ge_gate(layer: GatherExcitation, x):
    if layer.extent == GE_GLOBAL:
        flat = _flat(x)
        if not layer.parametric:
            return ops.sigmoid(ops.mean(flat, axis=1))
        kernel = ops.cast(ops.reshape(layer.gather_kernel, (-1, x.shape[-1])), x.dtype)
        context = ops.sum(flat * kernel, axis=1) + layer.gather_bias  # (N, C)
        context = layer.gather_bns[0](context, training=False)
        if layer.reduction is not None:
            context = excite(layer, ops.relu(context))
        return ops.sigmoid(context)
    if layer.parametric:
        context = x
        for index, (conv, bn) in enumerate(zip(layer.gather_convs, layer.gather_bns)):
            if index > 0:
                context = ops.relu(context)
            context = conv(ops.pad(context, ((0, 0), (1, 1), (1, 1), (0, 0))))
            context = bn(context, training=False)
    else:
        e = layer.extent
        context = ops.average_pool(x, pool_size=e, strides=e, padding="same")
    size = (ops.shape(x)[1], ops.shape(x)[2])
    return ops.sigmoid(ops.image.resize(context, size, interpolation="nearest"))


def _pointwise(x, kernel):
    """``x @ kernel`` on the last axis, as MS-SAR computes it (a 1x1 convolution on maps)."""
    if len(x.shape) == 2:
        return ops.matmul(x, kernel)
    kernel = ops.reshape(kernel, (1, 1, *kernel.shape))
    return ops.conv(x, kernel, padding="valid", data_format="channels_last")


def _mssar_gate(layer: MultiScaleSpatialRecalibration, x):
    x = ops.cast(x, layer.statistics_dtype)
    height, width = ops.shape(x)[1], ops.shape(x)[2]
    fused = None
    for index, scale in enumerate(layer.scales):
        if scale == MSSAR_GLOBAL:
            flat = _flat(x)
            pooled = ops.max(flat, axis=1) if layer.pooling == "max" else ops.mean(flat, axis=1)
        elif scale == 1:
            pooled = x
        else:
            pool = ops.max_pool if layer.pooling == "max" else ops.average_pool
            pooled = pool(x, scale, scale, padding="same", data_format="channels_last")
        z = _pointwise(pooled, layer.squeeze_kernel)
        if layer.batch_norm:
            z = layer.bns[index](z, training=False)
        else:
            z = z + layer.squeeze_bias
        z = ops.relu(z)
        if scale != MSSAR_GLOBAL:
            conv = ops.depthwise_conv if layer.depthwise else ops.conv
            z = conv(z, layer.spatial_kernels[scale], padding="same", data_format="channels_last")
        logits = _pointwise(z, layer.excite_kernel)
        if layer.fusion == "average":
            logits = ops.sigmoid(logits + layer.excite_bias)
        if scale == MSSAR_GLOBAL:
            logits = logits[:, None, None, :]  # (N, 1, 1, C)
        else:
            logits = upsample_nearest(logits, scale, height, width)
        fused = logits if fused is None else fused + logits
    if layer.fusion == "sum":
        gate = ops.sigmoid(fused + layer.excite_bias)
    else:
        gate = fused / len(layer.scales)
    # The global scale alone broadcasts (N, 1, 1, C); give every position its value.
    return ops.broadcast_to(gate, ops.shape(x))


_READERS: dict[type, GateReader] = {
    StyleRecalibration: _srm_gate,
    SqueezeExcitation: _se_gate,
    GatherExcitation: _ge_gate,
    MultiScaleSpatialRecalibration: _mssar_gate,
}


def register_gate_reader(layer_class: type[keras.layers.Layer], reader: GateReader) -> None:
    """Teach the analyses to read the gate of ``layer_class`` (a module of your own).

    ``reader(layer, inputs)`` returns the gate the layer multiplies ``inputs`` by at inference:
    ``(N, C)`` or ``(N, H, W, C)``. Not needed for a class with a ``gate(inputs, training=None)``
    method. Registering a class twice replaces its reader.
    """
    if not (isinstance(layer_class, type) and issubclass(layer_class, keras.layers.Layer)):
        raise ValueError(f"layer_class must be a keras.layers.Layer subclass; got {layer_class!r}.")
    if not callable(reader):
        raise ValueError(f"reader must be callable as reader(layer, inputs); got {reader!r}.")
    _READERS[layer_class] = reader


def _own_gate_method(layer, inputs):
    return layer.gate(inputs, training=False)


def gate_reader(layer: keras.layers.Layer) -> GateReader:
    """The reader of ``layer``'s gate.

    Raises:
        ValueError: for a layer whose gate no reader knows (not a recalibration module, or an
            unregistered one), or a subclass of a known module that overrides ``call``.
    """
    cls = type(layer)
    if callable(getattr(cls, "gate", None)):
        return _own_gate_method
    for base in cls.__mro__:
        if base in _READERS:
            if base is not cls and cls.call is not base.call:
                raise ValueError(
                    f"{layer.name!r} is a {cls.__name__}, a subclass of {base.__name__} with "
                    f"its own call(), so its gate may differ from {base.__name__}'s: register a "
                    "reader for it with srm_keras.analysis.register_gate_reader, or give the "
                    "class a gate(inputs, training=None) method."
                )
            return _READERS[base]
    known = ", ".join(sorted(c.__name__ for c in _READERS))
    raise ValueError(
        f"cannot read the gate of {layer.name!r} ({cls.__name__}): it is not a recalibration "
        f"module the analyses know ({known}). Register one with "
        "srm_keras.analysis.register_gate_reader(layer_class, reader), or give the class a "
        "gate(inputs, training=None) method."
    )


def is_readable(layer: keras.layers.Layer) -> bool:
    """Whether :func:`gate_reader` knows ``layer`` (without raising)."""
    cls = type(layer)
    if callable(getattr(cls, "gate", None)):
        return True
    return any(base in _READERS for base in cls.__mro__)
