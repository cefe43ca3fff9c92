"""How to read the gate of each recalibration module.

A recalibration module computes a gate ``g`` from its input ``x`` and returns ``x * g``
(docs/design.md §1-3, §10). Every module of the library says what its gate is with a method
``gate(inputs, training=None)``, which its ``call`` uses:

==========================  ===================================================  ==========
class                       gate                                                 shape
==========================  ===================================================  ==========
StyleRecalibration (SRM)    ``sigmoid(bn(integrate(pool_statistics(x))))``        (N, C)
SqueezeExcitation (SE)      ``sigmoid(excite(mean_hw x))``                        (N, C)
GatherExcitation (GE)       global: ``sigmoid(bn(sum_hw K·x + b))`` (GE-θ⁺: the   (N, C)
                            excite bottleneck first; GE-θ⁻: mean); extent e:
                            the gather resized to H×W (nearest), sigmoid          (N, H, W, C)
MultiScaleSpatialRecal.     ``sigmoid(b + sum_s up_s(l_s))`` (fusion "sum") or    (N, H, W, C)
(MS-SAR)                    ``mean_s sigmoid(b + up_s(l_s))`` ("average")
==========================  ===================================================  ==========

A module of one's own is read through its own ``gate`` method, or through a *gate reader*
registered for its class (:func:`register_gate_reader`), which computes the gate from the
layer's weights. Two guards: a subclass that overrides ``call`` below the class that defines
its gate is refused (it may apply another gate), and
:func:`srm_keras.analysis.gate_statistics` checks on every batch that ``x * gate`` reproduces
the module's own output.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

#: ``reader(layer, inputs) -> gate``: inputs ``(N, H, W, C)``, gate ``(N, C)`` (one value per
#: channel) or ``(N, H, W, C)`` (one per position), as the layer computes it at inference.
GateReader = Callable[[keras.layers.Layer, object], object]

# Readers registered for modules of one's own (the library's modules have gate methods).
_READERS: dict[type, GateReader] = {}


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
    """The reader of ``layer``'s gate: a reader registered for its class or a base, or the
    ``gate`` method of the class that defines one.

    Raises:
        ValueError: for a layer whose gate no reader knows (not a recalibration module, or an
            unregistered one), or a subclass that overrides ``call`` below the class whose
            gate it would be read with.
    """
    cls = type(layer)
    for base in cls.__mro__:
        if base in _READERS or callable(vars(base).get("gate")):
            if base is not cls and cls.call is not base.call:
                raise ValueError(
                    f"{layer.name!r} is a {cls.__name__}, a subclass of {base.__name__} with "
                    f"its own call(), so its gate may differ from {base.__name__}'s: register a "
                    "reader for it with srm_keras.analysis.register_gate_reader, or give the "
                    "class a gate(inputs, training=None) method."
                )
            return _READERS.get(base, _own_gate_method)
    raise ValueError(
        f"cannot read the gate of {layer.name!r} ({cls.__name__}): it is not a recalibration "
        "module the analyses know (a layer with a gate(inputs, training=None) method, or a "
        "class registered with srm_keras.analysis.register_gate_reader(layer_class, reader))."
    )


def is_readable(layer: keras.layers.Layer) -> bool:
    """Whether :func:`gate_reader` knows ``layer`` (without raising)."""
    return any(base in _READERS or callable(vars(base).get("gate")) for base in type(layer).__mro__)
