"""How PyTorch checkpoints name the weights of the zoo's layers, one naming scheme per layout.

Every layout shares torchvision's backbone names, of the ResNets and of the DenseNets (see
``srm_keras.weights.backbones``): ``layer{s}.{b}.conv{k}``, ``fc``; ``features.denseblock{b}.
denselayer{l}.conv{k}``, ``classifier``. The layouts differ in where a block (a residual block,
or a dense layer) keeps its recalibration module:

- ``"torchvision"``: no module (plain ResNet-18 to 152, DenseNet-121/169/201/161).
- ``"timm"``: SE as ``{block}.se.fc1`` / ``se.fc2``, 1x1 convolutions with bias.
- ``"srm_reference"``: the SRM release's ``{block}.rclb``: SRM as ``rclb.cfc`` (C, 2) and
  ``rclb.bn``; SE as the linear layers ``rclb.fc.0`` / ``rclb.fc.2``; GE-θ (global extent) as
  the depthwise convolution with bias ``rclb.conv.0`` and the batch norm ``rclb.conv.1``. The
  SRM release has ResNets only; a DenseNet's modules get the same names under each dense layer
  (``features.denseblock2.denselayer3.rclb.cfc``).

The CIFAR depths use the same names with three stages or blocks; the ResNets' option-A shortcut
has no weights. Modules without weights (GE-θ⁻) need no tensors in any layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from srm_keras.layers import GatherExcitation, SqueezeExcitation, StyleRecalibration
from srm_keras.weights.backbones import Backbone, backbone_of

LAYOUTS: dict[str, str] = {
    "torchvision": "torchvision ResNets (conv1, layerX.Y.convZ, fc) and DenseNets (features.*, "
    "classifier)",
    "timm": "timm SE-ResNets: the torchvision names plus {block}.se.fc1/fc2 (1x1 convs)",
    "srm_reference": "the SRM release: the torchvision names plus {block}.rclb (SRM, SE, GE)",
}

# Keras layout <-> PyTorch layout of one tensor, as (to_torch, to_keras).
_TRANSFORMS: dict[str, tuple[Callable, Callable]] = {
    "copy": (lambda a: a, lambda a: a),
    # Conv2D kernel (kh, kw, in, out) <-> (out, in, kh, kw).
    "conv": (lambda a: a.transpose(3, 2, 0, 1), lambda a: a.transpose(2, 3, 1, 0)),
    # Dense kernel (in, out) <-> nn.Linear weight (out, in).
    "linear": (lambda a: a.T, lambda a: a.T),
    # Dense-like kernel (in, out) <-> 1x1 nn.Conv2d weight (out, in, 1, 1).
    "conv1x1": (lambda a: a.T[:, :, None, None], lambda a: a[:, :, 0, 0].T),
    # Depthwise kernel (kh, kw, C, 1) <-> grouped nn.Conv2d weight (C, 1, kh, kw).
    "depthwise": (lambda a: a.transpose(2, 3, 0, 1), lambda a: a.transpose(2, 3, 0, 1)),
}


@dataclass(frozen=True)
class Binding:
    """One PyTorch tensor and the Keras variable it fills."""

    key: str
    variable: keras.Variable
    kind: str = "copy"
    layer: str = ""
    is_classifier: bool = False

    @property
    def torch_shape(self) -> tuple[int, ...]:
        # A zero-copy stand-in of the variable's shape, run through the same transform.
        stand_in = np.broadcast_to(np.zeros((), np.uint8), tuple(self.variable.shape))
        return tuple(_TRANSFORMS[self.kind][0](stand_in).shape)

    def to_torch(self, array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(_TRANSFORMS[self.kind][0](array))

    def to_keras(self, array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(_TRANSFORMS[self.kind][1](array))


def _conv(prefix: str, layer) -> list[Binding]:
    found = [Binding(f"{prefix}.weight", layer.kernel, "conv", layer.name)]
    if layer.use_bias:
        found.append(Binding(f"{prefix}.bias", layer.bias, "copy", layer.name))
    return found


def _batch_norm(prefix: str, layer: keras.layers.BatchNormalization, owner: str = ""):
    if not (layer.scale and layer.center):
        raise ValueError(
            f"BatchNormalization {layer.name!r} has scale={layer.scale}, center={layer.center}: "
            "PyTorch batch norms always have weight and bias."
        )
    owner = owner or layer.name
    return [
        Binding(f"{prefix}.weight", layer.gamma, "copy", owner),
        Binding(f"{prefix}.bias", layer.beta, "copy", owner),
        Binding(f"{prefix}.running_mean", layer.moving_mean, "copy", owner),
        Binding(f"{prefix}.running_var", layer.moving_variance, "copy", owner),
    ]


def _dense(prefix: str, layer: keras.layers.Dense) -> list[Binding]:
    # The zoo's only Dense layer is its classifier.
    found = [Binding(f"{prefix}.weight", layer.kernel, "linear", layer.name, True)]
    if layer.use_bias:
        found.append(Binding(f"{prefix}.bias", layer.bias, "copy", layer.name, True))
    return found


def _timm_se(block: str, layer: SqueezeExcitation) -> list[Binding]:
    p, n = f"{block}.se", layer.name
    return [
        Binding(f"{p}.fc1.weight", layer.squeeze_kernel, "conv1x1", n),
        Binding(f"{p}.fc1.bias", layer.squeeze_bias, "copy", n),
        Binding(f"{p}.fc2.weight", layer.excite_kernel, "conv1x1", n),
        Binding(f"{p}.fc2.bias", layer.excite_bias, "copy", n),
    ]


def _reference_srm(block: str, layer: StyleRecalibration) -> list[Binding]:
    # Both sides store the CFC as (C, 2) and compute z = cfc[:, 0] * mean + cfc[:, 1] * std.
    if tuple(layer.pooling) != ("mean", "std") or layer.integration != "cfc":
        raise ValueError(
            f"Layer {layer.name!r} is an SRM ablation variant (pooling={list(layer.pooling)}, "
            f"integration={layer.integration!r}) that the SRM release does not have: its SRM "
            "pools mean and std into the channel-wise CFC (recalibration='srm')."
        )
    p = f"{block}.rclb"
    return [Binding(f"{p}.cfc", layer.cfc, "copy", layer.name)] + _batch_norm(
        f"{p}.bn", layer.bn, layer.name
    )


def _reference_se(block: str, layer: SqueezeExcitation) -> list[Binding]:
    p, n = f"{block}.rclb.fc", layer.name
    return [
        Binding(f"{p}.0.weight", layer.squeeze_kernel, "linear", n),
        Binding(f"{p}.0.bias", layer.squeeze_bias, "copy", n),
        Binding(f"{p}.2.weight", layer.excite_kernel, "linear", n),
        Binding(f"{p}.2.bias", layer.excite_bias, "copy", n),
    ]


def _reference_ge(block: str, layer: GatherExcitation) -> list[Binding]:
    if layer.extent != "global" or layer.reduction is not None:
        raise ValueError(
            f"Layer {layer.name!r} is a GE variant (extent={layer.extent!r}, "
            f"reduction={layer.reduction!r}) that the SRM release does not have: its 'ge' is the "
            "global-extent GE-θ (recalibration='ge')."
        )
    p = f"{block}.rclb.conv"
    return [
        Binding(f"{p}.0.weight", layer.gather_kernel, "depthwise", layer.name),
        Binding(f"{p}.0.bias", layer.gather_bias, "copy", layer.name),
    ] + _batch_norm(f"{p}.1", layer.gather_bns[0], layer.name)


# layout -> {module class: bindings of one module inside a block}
_MODULES: dict[str, dict[type, Callable]] = {
    "torchvision": {},
    "timm": {SqueezeExcitation: _timm_se},
    "srm_reference": {
        StyleRecalibration: _reference_srm,
        SqueezeExcitation: _reference_se,
        GatherExcitation: _reference_ge,
    },
}
_SUPPORTED = "torchvision: none; timm: SE; srm_reference: SRM, SE and GE-θ (global extent)"


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(
            f"Unknown layout {layout!r}: use one of {', '.join(LAYOUTS)} "
            "(or None to detect it from the checkpoint's names)."
        )
    return layout


def leaf_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers, with nested models (e.g. a preprocessing wrapper) flattened."""
    found = []
    for layer in model.layers:
        found.extend(leaf_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return found


def module_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The recalibration modules of the model that hold weights."""
    return [
        layer
        for layer in leaf_layers(model)
        if isinstance(layer, StyleRecalibration | SqueezeExcitation | GatherExcitation)
        and layer.weights
    ]


def classifier_prefix(model: keras.Model) -> str:
    """The prefix of the model's classifier tensors: ``"fc"`` (ResNets), ``"classifier"``
    (DenseNets); the same whether or not the model was built with its top."""
    return backbone_of(leaf_layers(model)).classifier


def canonical_state(model: keras.Model, state: dict) -> dict:
    """``state`` with the checkpoint names the model's family once spelled otherwise renamed
    (torchvision's DenseNet files: ``denselayer1.norm.1`` -> ``denselayer1.norm1``)."""
    return backbone_of(leaf_layers(model)).canonical_state(state)


def default_layout(model: keras.Model) -> str:
    """The layout that can hold the model: timm for SE, the SRM release's for SRM/GE."""
    kinds = {type(layer) for layer in module_layers(model)}
    if not kinds:
        return "torchvision"
    if kinds == {SqueezeExcitation}:
        return "timm"
    return "srm_reference"


def bindings(model: keras.Model, layout: str) -> list[Binding]:
    """Every PyTorch tensor name of ``layout`` that the model's weights correspond to.

    Raises:
        ValueError: when a layer with weights has no name in the layout (an unknown layer, or a
            recalibration module the layout does not have).
    """
    check_layout(layout)
    layers = leaf_layers(model)
    backbone = backbone_of(layers)
    found: list[Binding] = []
    constants: set[int] = set()
    for layer in layers:
        if isinstance(layer, keras.layers.Normalization):
            # Input normalisation (srm_keras.preprocessing) holds constants, not trained weights.
            constants.update(id(v) for v in layer.weights)
        elif layer.weights:
            found.extend(_layer_bindings(layer, layout, backbone))
    bound = {id(b.variable) for b in found} | constants
    unbound = [v.path for v in model.weights if id(v) not in bound]
    if unbound:
        raise ValueError(
            f"The {layout!r} layout has no name for these weights: {', '.join(unbound)}."
        )
    return found


def _layer_bindings(layer, layout: str, backbone: Backbone) -> list[Binding]:
    name = layer.name
    location = backbone.locate(name)
    if location is None:
        raise ValueError(
            f"Layer {name!r} ({type(layer).__name__}) has weights but no PyTorch name: "
            "only models built by srm_keras.resnet or srm_keras.densenet can be mapped."
        )
    prefix = location.prefix
    if isinstance(layer, keras.layers.BatchNormalization) and prefix:
        return _batch_norm(prefix, layer)
    if isinstance(layer, keras.layers.Conv2D) and prefix:
        return _conv(prefix, layer)
    if isinstance(layer, keras.layers.Dense) and prefix:
        return _dense(prefix, layer)
    for module_class, rule in _MODULES[layout].items():
        if isinstance(layer, module_class) and location.owner is not None:
            return rule(location.owner, layer)
    raise ValueError(
        f"Layer {name!r} ({type(layer).__name__}) has no counterpart in the {layout!r} layout. "
        f"Recalibration modules per layout: {_SUPPORTED}."
    )
