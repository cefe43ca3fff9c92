"""The residual blocks of a model, found from its graph: what pruning silences, per block.

:func:`srm_keras.models.blocks.residual_block` builds every block of the zoo's ResNets as::

    x ─> conv ─> BN ─> ... ─> conv_k ─> BN_k ─> [module] ─┐
    └──────────────── shortcut ───────────────────────────┴─> Add([shortcut, branch]) ─> ReLU

so each ``Add`` of two tensors whose second input comes from a batch normalisation (directly,
or through a recalibration module) fed by a convolution is a block, named after the ``Add``
(``stage3_block2_add`` -> ``stage3_block2``).
"""

from __future__ import annotations

import dataclasses

import keras

from srm_keras.analysis.readers import is_readable


@dataclasses.dataclass(frozen=True)
class ResidualBlock:
    """The layers of one residual block that pruning touches, by name.

    Attributes:
        name: the block, e.g. ``"stage3_block2"``.
        conv: the residual branch's last convolution, e.g. ``"stage3_block2_conv2"``.
        batch_norm: the branch's last batch normalisation, e.g. ``"stage3_block2_bn2"``.
        module: the recalibration module after it, e.g. ``"stage3_block2_srm"``; None in a
            plain network.
        add: the addition of shortcut and branch, e.g. ``"stage3_block2_add"``.
        channels: the branch's output channels (C).
    """

    name: str
    conv: str
    batch_norm: str
    module: str | None
    add: str
    channels: int


def residual_blocks(model: keras.Model) -> list[ResidualBlock]:
    """The residual blocks of a ResNet built by ``srm_keras.resnet`` (any depth, module or
    shortcut), in layer order.

    Raises:
        ValueError: for a model without residual blocks (a DenseNet: its dense layers
            concatenate, there is no branch to silence beside a shortcut), or with an addition
            whose branch is not ``conv -> BN [-> recalibration module]``.
    """
    producers = {}
    for layer in model.layers:
        producers[id(layer.output)] = layer

    def producer(tensor):
        return producers.get(id(tensor))

    blocks = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Add) or len(layer.input) != 2:
            continue
        block = layer.name[: -len("_add")] if layer.name.endswith("_add") else layer.name
        # Add([shortcut, branch]), the order of srm_keras.models.blocks.residual_block.
        last = producer(layer.input[1])
        module = None
        if last is not None and not isinstance(last, keras.layers.BatchNormalization):
            if not is_readable(last):
                raise ValueError(
                    f"block {block!r}: between the branch's last batch normalisation and the "
                    f"addition sits {last.name!r} ({type(last).__name__}), not a recalibration "
                    "module whose gate the analyses can read (register one with "
                    "srm_keras.analysis.register_gate_reader)."
                )
            module, last = last, producer(last.input)
        conv = producer(last.input) if isinstance(last, keras.layers.BatchNormalization) else None
        if not isinstance(conv, keras.layers.Conv2D) or "shortcut" in last.name:
            raise ValueError(
                f"{layer.name!r} is not the addition of a residual block as srm_keras.resnet "
                "builds it (Add([shortcut, conv -> BN -> module])): prune_channels supports "
                "the zoo's ResNets only."
            )
        blocks.append(
            ResidualBlock(
                name=block,
                conv=conv.name,
                batch_norm=last.name,
                module=None if module is None else module.name,
                add=layer.name,
                channels=int(conv.filters),
            )
        )
    if not blocks:
        raise ValueError(
            f"{model.name!r} has no residual blocks: channel pruning supports the ResNets of "
            "srm_keras.resnet (plain or with any module). DenseNets are out of scope: a dense "
            "layer's new maps feed every later layer through concatenation, so there is no "
            "shortcut to fall back on."
        )
    return blocks
