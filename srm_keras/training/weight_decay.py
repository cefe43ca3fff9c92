"""Coupled L2 weight decay, as the official SRM training script applies it (docs/design.md §1).

PyTorch's SGD ``weight_decay=wd`` adds ``wd * w`` to each gradient before momentum. The same
update comes from adding ``wd / 2 * ||w||^2`` to the loss, which is what this module does, through
each variable's ``regularizer`` (Keras sums those into ``model.losses``, scaled for
``tf.distribute`` replicas). Keras' optimizer ``weight_decay`` is decoupled (AdamW-style) and is
not the same update under momentum.

Every trainable variable is decayed (convolution and dense kernels, dense biases, BatchNorm gamma
and beta) except the variables of layers whose class sets ``weight_decay_exempt = True``: the SRM
modules, whose CFC and BN parameters the paper trains without decay.
"""

from __future__ import annotations

import keras


def is_exempt(layer: keras.layers.Layer) -> bool:
    return bool(getattr(type(layer), "weight_decay_exempt", False))


def exempt_variables(model: keras.Model) -> list[keras.Variable]:
    """Trainable variables of exempt layers, their sub-layers included."""
    found: dict[int, keras.Variable] = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if is_exempt(layer):
            for variable in layer.trainable_variables:
                found[id(variable)] = variable
    return list(found.values())


def decayed_variables(model: keras.Model) -> list[keras.Variable]:
    """The trainable variables that receive weight decay, in the model's order."""
    exempt = {id(v) for v in exempt_variables(model)}
    return [v for v in model.trainable_variables if id(v) not in exempt]


def apply_weight_decay(model: keras.Model, weight_decay: float) -> list[keras.Variable]:
    """Attach ``L2(weight_decay / 2)`` to every decayed variable; return those variables.

    The regularisers live on the variables only, not in the layers' configs, so saved models
    stay free of training settings. Call it on a built model, before ``fit``, and again after
    rebuilding the model (for example when resuming).
    """
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}.")
    for variable in exempt_variables(model):
        variable.regularizer = None
    variables = decayed_variables(model)
    regularizer = keras.regularizers.L2(weight_decay / 2.0) if weight_decay > 0 else None
    for variable in variables:
        variable.regularizer = regularizer
    return variables if regularizer is not None else []
