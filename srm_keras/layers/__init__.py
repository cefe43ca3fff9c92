"""Recalibration layers: SRM, SE, GE and MS-SAR, the registry that names them, and the inference
forms that exports swap in (SRM, GE and MS-SAR with their batch normalisation folded, SE)."""

from srm_keras.layers.folded import (
    FoldedGatherExcitation,
    FoldedMultiScaleSpatialRecalibration,
    FoldedStyleRecalibration,
    InferenceSqueezeExcitation,
    fold_module,
    is_foldable,
    takes_mean,
)
from srm_keras.layers.ge import GatherExcitation
from srm_keras.layers.mssar import (
    MultiScaleSpatialRecalibration,
    mssar_macs,
    mssar_parameters,
    upsample_nearest,
)
from srm_keras.layers.registry import get, names, register, short_name
from srm_keras.layers.se import SqueezeExcitation
from srm_keras.layers.shortcut import PaddedIdentity
from srm_keras.layers.srm import StyleRecalibration

__all__ = [
    "FoldedGatherExcitation",
    "FoldedMultiScaleSpatialRecalibration",
    "FoldedStyleRecalibration",
    "GatherExcitation",
    "InferenceSqueezeExcitation",
    "MultiScaleSpatialRecalibration",
    "PaddedIdentity",
    "SqueezeExcitation",
    "StyleRecalibration",
    "fold_module",
    "get",
    "is_foldable",
    "mssar_macs",
    "mssar_parameters",
    "names",
    "register",
    "short_name",
    "takes_mean",
    "upsample_nearest",
]
