"""Recalibration layers: SRM, SE and GE, the registry that names them, and the folded
inference forms of SRM and GE."""

from srm_keras.layers.folded import (
    FoldedGatherExcitation,
    FoldedStyleRecalibration,
    fold_module,
    is_foldable,
)
from srm_keras.layers.ge import GatherExcitation
from srm_keras.layers.registry import get, names, register, short_name
from srm_keras.layers.se import SqueezeExcitation
from srm_keras.layers.srm import StyleRecalibration

__all__ = [
    "FoldedGatherExcitation",
    "FoldedStyleRecalibration",
    "GatherExcitation",
    "SqueezeExcitation",
    "StyleRecalibration",
    "fold_module",
    "get",
    "is_foldable",
    "names",
    "register",
    "short_name",
]
