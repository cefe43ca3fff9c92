"""How PyTorch names the backbone layers of the zoo's two families (torchvision's names).

- ResNets (``srm_keras.resnet``): ``conv1``/``bn1`` for the stem, ``layer{s}.{b}.conv{k}`` /
  ``bn{k}`` in the blocks (stage ``s`` and block ``b + 1`` of the Keras model, whose names are
  1-indexed), ``layer{s}.{b}.downsample.0/1`` for a projection shortcut, ``fc`` for the
  classifier.
- DenseNets (``srm_keras.densenet``): everything but the classifier under ``features``:
  ``conv0``/``norm0`` for the stem, ``denseblock{b}.denselayer{l}.norm1/conv1/norm2/conv2`` for
  the dense layers (a CIFAR DenseNet without bottleneck has only ``norm1``/``conv1``, its 3x3),
  ``transition{t}.norm/conv``, ``norm5`` for the final batch norm (whatever the number of
  blocks, as torchvision names it), ``classifier`` for the classifier.

A block's recalibration module is named under the block's prefix (``layer3.1`` or
``features.denseblock3.denselayer2``) by the layout (see ``srm_keras.weights.layouts``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import keras


@dataclass(frozen=True)
class Location:
    """Where a Keras layer's weights live in a PyTorch state dict.

    Attributes:
        prefix: the prefix of the layer's own tensors (``"layer3.1.conv2"``), or None for a
            layer that the backbone does not name (a recalibration module).
        owner: the prefix of the block the layer belongs to (``"layer3.1"``), where a
            recalibration module is named; None outside blocks.
    """

    prefix: str | None
    owner: str | None = None


@dataclass(frozen=True)
class Backbone:
    """The PyTorch names of one family's layers.

    Attributes:
        family: ``"ResNet"`` or ``"DenseNet"``.
        classifier: the prefix of the classifier's tensors (``"fc"``, ``"classifier"``).
        locate: a Keras layer name -> its :class:`Location`, or None for a name the family
            does not have.
        tensors: matches the PyTorch names of the family's backbone tensors.
        canonical: a checkpoint tensor name -> the name this module uses (older spellings).
    """

    family: str
    classifier: str
    locate: Callable[[str], Location | None]
    tensors: re.Pattern
    canonical: Callable[[str], str] = lambda name: name

    def canonical_state(self, state: dict) -> dict:
        """The state dict with every name in its current spelling."""
        return {self.canonical(name): value for name, value in state.items()}


def _locate_in(name: str, top_level: dict, units, parts: dict) -> Location | None:
    if name in top_level:
        return Location(top_level[name])
    for pattern, owner_of in units:
        match = pattern.match(name)
        if match is not None:
            owner, part = owner_of(match), match.group("part")
            return Location(f"{owner}.{parts[part]}" if part in parts else None, owner)
    return None


_RESNET_TOP = {"stem_conv": "conv1", "stem_bn": "bn1", "logits": "fc"}
_RESNET_UNITS = (
    (
        re.compile(r"^stage(?P<stage>\d+)_block(?P<block>\d+)_(?P<part>.+)$"),
        lambda m: f"layer{m.group('stage')}.{int(m.group('block')) - 1}",
    ),
)
_RESNET_PARTS = {
    **{f"conv{i}": f"conv{i}" for i in (1, 2, 3)},
    **{f"bn{i}": f"bn{i}" for i in (1, 2, 3)},
    "shortcut_conv": "downsample.0",
    "shortcut_bn": "downsample.1",
}

_DENSENET_TOP = {
    "stem_conv": "features.conv0",
    "stem_bn": "features.norm0",
    "final_bn": "features.norm5",
    "logits": "classifier",
}
_DENSENET_UNITS = (
    (
        re.compile(r"^block(?P<block>\d+)_layer(?P<layer>\d+)_(?P<part>.+)$"),
        lambda m: f"features.denseblock{m.group('block')}.denselayer{m.group('layer')}",
    ),
    (
        re.compile(r"^transition(?P<index>\d+)_(?P<part>.+)$"),
        lambda m: f"features.transition{m.group('index')}",
    ),
)
_DENSENET_PARTS = {"bn1": "norm1", "conv1": "conv1", "bn2": "norm2", "conv2": "conv2"}
_DENSENET_PARTS.update({"bn": "norm", "conv": "conv"})
# torchvision's own ImageNet files (densenet121-a639ec97.pth, ...) predate the current names:
# "denselayer1.norm.1.weight" for "denselayer1.norm1.weight". torchvision renames them on
# loading, with this pattern; so does this module.
_DENSENET_LEGACY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _densenet_canonical(name: str) -> str:
    match = _DENSENET_LEGACY.match(name)
    return match.group(1) + match.group(2) if match else name


RESNET = Backbone(
    "ResNet",
    "fc",
    lambda name: _locate_in(name, _RESNET_TOP, _RESNET_UNITS, _RESNET_PARTS),
    re.compile(r"^(conv1|bn1|layer\d+\.\d+)\."),
)
DENSENET = Backbone(
    "DenseNet",
    "classifier",
    lambda name: _locate_in(name, _DENSENET_TOP, _DENSENET_UNITS, _DENSENET_PARTS),
    re.compile(r"^features\.(conv0|norm0|denseblock\d+|transition\d+|norm5)\."),
    _densenet_canonical,
)
BACKBONES = (RESNET, DENSENET)

_DENSENET_LAYER = re.compile(r"^(block\d+_layer\d+|transition\d+)_")


def backbone_of(layers: Iterable[keras.layers.Layer]) -> Backbone:
    """The family of a model, from its layers' names: DenseNets have dense layers
    (``block1_layer1_*``) and transitions, ResNets neither."""
    if any(_DENSENET_LAYER.match(layer.name) for layer in layers):
        return DENSENET
    return RESNET


def backbone_of_names(names: Iterable[str]) -> Backbone | None:
    """The family whose backbone tensors ``names`` hold (checkpoint names), or None."""
    names = list(names)
    for backbone in BACKBONES:
        if any(backbone.tensors.match(name) for name in names):
            return backbone
    return None
